import { isRetriable, retryAfterMs, retryDelayMs } from './azure-retry';

const options = { maxTries: 5, baseDelayMs: 1000, maxDelayMs: 8000 };

describe('retryDelayMs', () => {
  it('draws each wait uniformly from zero up to a doubling step', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, options, 0, () => 0))).toEqual([0, 0, 0, 0]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, options, 0, () => 0.5))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, options, 0, () => 0.999))).toEqual([999, 1998, 3996, 7992]);
  });

  it('never waits longer than maxDelayMs', () => {
    expect(retryDelayMs(10, options, 0, () => 0.999)).toBe(7992);
    expect(retryDelayMs(60, options, 0, () => 0.999)).toBeLessThan(8000);
  });

  it('spreads clients that failed together', () => {
    const waits = new Set(Array.from({ length: 50 }, () => retryDelayMs(3, options)));
    expect(waits.size).toBeGreaterThan(10);
    for (const w of waits) expect(w >= 0 && w < 4000).toBe(true);
  });

  it("honours a longer Retry-After, up to maxDelayMs", () => {
    expect(retryDelayMs(1, options, 3000, () => 0.5)).toBe(3000);
    expect(retryDelayMs(4, options, 3000, () => 0.9)).toBe(7200);
    expect(retryDelayMs(1, options, 60_000, () => 0)).toBe(8000);
  });
});

describe('retryAfterMs', () => {
  const headers = (value?: string) => ({ get: (name: string) => (name === 'retry-after' ? value : undefined) });
  const answered = (value?: string) => Object.assign(new Error('ServerBusy'), { statusCode: 503, response: { headers: headers(value) } });

  it('reads the seconds of the Retry-After a thrown RestError carries', () => {
    expect(retryAfterMs(answered('5'))).toBe(5000);
    expect(retryAfterMs(answered('6'))).toBe(6000);
  });

  it('is 0 without one, or for a form other than seconds', () => {
    expect(retryAfterMs(answered())).toBe(0);
    expect(retryAfterMs(answered('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(0);
    expect(retryAfterMs(new Error('ECONNRESET'))).toBe(0);
    expect(retryAfterMs(undefined)).toBe(0);
  });
});

describe('isRetriable', () => {
  it('retries throttling, server errors and gateways, not answers about the request', () => {
    const failed = (statusCode: number) => Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetriable(failed(status))).toBe(true);
    for (const status of [200, 201, 304, 400, 403, 404, 409, 412, 416]) expect(isRetriable(failed(status))).toBe(false);
  });

  it('retries failures to reach the service, not an abort or an unknown error', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'REQUEST_SEND_ERROR']) {
      expect(isRetriable(errno(code))).toBe(true);
    }
    expect(isRetriable(Object.assign(errno('ETIMEDOUT'), { name: 'AbortError' }))).toBe(false);
    expect(isRetriable(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isRetriable(undefined)).toBe(false);
  });

  it('judges an answer the SDK could not parse (a gateway page) by its status', () => {
    const unparsed = (statusCode: number) => Object.assign(new Error('PARSE_ERROR'), { code: 'PARSE_ERROR', statusCode });
    expect(isRetriable(unparsed(503))).toBe(true);
    expect(isRetriable(unparsed(502))).toBe(true);
    expect(isRetriable(unparsed(404))).toBe(false);
    // No status: the body broke off mid-way.
    expect(isRetriable(Object.assign(new Error('Error reading response as text: aborted'), { code: 'PARSE_ERROR' }))).toBe(true);
  });
});
