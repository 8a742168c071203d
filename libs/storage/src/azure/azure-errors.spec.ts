import { azureError, isBlobAbsent } from './azure-errors';

describe('azureError', () => {
  const endpoint = 'http://127.0.0.1:10000/devstoreaccount1';
  const failure = (statusCode: number, message: string, errorCode?: string) =>
    Object.assign(new Error(message), { statusCode, ...(errorCode ? { details: { errorCode } } : {}) });

  it("names Azure's error code and the status", () => {
    const e = azureError(failure(503, 'The server is busy.', 'ServerBusy'), 'read k in az://c/p', endpoint, {});
    expect(e).toMatchObject({ code: 'UNAVAILABLE', message: 'cannot read k in az://c/p: ServerBusy (HTTP 503)' });
  });

  it('says who answered when the answer is not Azure Storage\'s: a gateway page, an empty 404', () => {
    const page = azureError(failure(502, '<html><body>Bad Gateway</body></html>'), 'read k in az://c/p', endpoint, {});
    expect(page).toMatchObject({
      code: 'UNAVAILABLE',
      message: `cannot read k in az://c/p: ${endpoint} answered HTTP 502 without an Azure error code (a proxy or another server?)`,
    });
    // Not found, as an empty 404 is on S3 and GCS (exit 2), but saying who answered: not Azure (isBlobAbsent is false).
    const empty = azureError(failure(404, ''), 'open store az://c/p', endpoint, {});
    expect(empty).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`${endpoint} answered HTTP 404`) });
  });

  it('takes a web page for no answer of Azure Storage\'s, whatever its status (exit 3, as on S3 and GCS)', () => {
    const page = Object.assign(failure(404, '<html>Not here</html>'), {
      response: { headers: { get: (name: string) => (name === 'content-type' ? 'text/html; charset=utf-8' : undefined) } },
    });
    expect(azureError(page, 'read k in az://c/p', endpoint, {})).toMatchObject({
      code: 'UNAVAILABLE',
      message: `cannot read k in az://c/p: ${endpoint} answered HTTP 404 without an Azure error code (a proxy or another server?)`,
    });
  });

  it('tells a blob absent only by an Azure 404 with a code that is not the container\'s', () => {
    expect(isBlobAbsent(failure(404, 'The specified blob does not exist.', 'BlobNotFound'))).toBe(true);
    expect(isBlobAbsent(failure(404, 'The specified container does not exist.', 'ContainerNotFound'))).toBe(false);
    expect(isBlobAbsent(failure(404, '<html>Not Found</html>'))).toBe(false);
    expect(isBlobAbsent(failure(500, 'busy', 'ServerBusy'))).toBe(false);
  });
});
