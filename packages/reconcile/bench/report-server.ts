/**
 * A loopback stand-in for the Earn API that serves one report file, for the nightly bench's
 * fetched run: the token endpoint, the report's download URI and the download itself (the file
 * streamed with its length). Prints its port, then serves until killed. Run as its own process,
 * so that serving takes nothing from the measured process.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The report id the server knows. */
export const SERVED_REPORT_ID = 'bench-report';

const file = process.argv[2];
if (file !== undefined && process.argv[1]?.endsWith('report-server.ts') === true) {
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://127.0.0.1');
    const { port } = server.address() as AddressInfo;
    const send = (body: unknown) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (pathname === '/oauth/token') send({ access_token: 'bench-access-token-0123456789', token_type: 'Bearer', expires_in: 3600 });
    else if (pathname === `/v1/reports/${SERVED_REPORT_ID}/download-uri`) send({ uri: `http://127.0.0.1:${port}/downloads/${SERVED_REPORT_ID}.json`, expiresAt: '2099-01-01T00:00:00Z' });
    else if (pathname === `/downloads/${SERVED_REPORT_ID}.json`) {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': statSync(file).size });
      createReadStream(file).pipe(response);
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"code":"not_found","message":"not served"}}');
    }
  });
  server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
}
