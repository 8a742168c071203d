import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { startConditionalProxy } from './s3-conditional-proxy';

/** An upstream that fails the first `failures` listings with s3rver's 500, then lists; counts what it is asked. */
async function flakyUpstream(failures: number) {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    if (asked.length <= failures) {
      res.writeHead(500, { 'content-type': 'application/xml' });
      return void res.end('<Error><Code>InternalError</Code></Error>');
    }
    res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': 'r1' });
    res.end('<ListBucketResult><Name>b</Name></ListBucketResult>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { asked, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

function get(url: string): Promise<{ status: number; body: string; requestId?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, requestId: res.headers['x-amz-request-id'] as string | undefined }));
      })
      .on('error', reject);
  });
}

describe('startConditionalProxy', () => {
  it('asks again for a listing s3rver failed with 500 meeting a write in progress, as S3 lists only finished objects', async () => {
    const upstream = await flakyUpstream(3);
    const proxy = await startConditionalProxy({ upstream: upstream.url });
    try {
      const r = await get(`${proxy.endpoint}/b?list-type=2&prefix=a%2F`);
      expect(r).toEqual({ status: 200, body: '<ListBucketResult><Name>b</Name></ListBucketResult>', requestId: 'r1' });
      expect(upstream.asked).toEqual(Array(4).fill('GET /b?list-type=2&prefix=a%2F'));
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  it('passes the 500 on when it lasts, and never asks again for a read of an object', async () => {
    const upstream = await flakyUpstream(100);
    const proxy = await startConditionalProxy({ upstream: upstream.url });
    try {
      expect((await get(`${proxy.endpoint}/b?list-type=2`)).status).toBe(500);
      expect(upstream.asked).toHaveLength(8);
      expect((await get(`${proxy.endpoint}/b/key`)).status).toBe(500);
      expect(upstream.asked).toHaveLength(9);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
