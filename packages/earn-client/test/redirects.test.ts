import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarnApiError, EarnClient } from '../src/index.js';
import { DOWNLOAD_REDIRECTS_MAX } from '../src/redirects.js';
import { FakeEarnServer, json } from './support/fake-earn-server.js';
import type { Responder } from './support/fake-earn-server.js';
import { dailyReport } from './support/fixtures.js';

let server: FakeEarnServer;

beforeEach(async () => {
  server = await FakeEarnServer.start();
});

afterEach(async () => {
  await server.close();
});

function redirect(status: number, location: string): Responder {
  return (_request, response) => {
    response.writeHead(status, { location, 'content-type': 'text/plain' });
    response.end('moved');
  };
}

async function failure(promise: Promise<unknown>): Promise<EarnApiError> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (caught: unknown) => caught as EarnApiError,
  );
}

function port(): string {
  return new URL(server.baseUrl).port;
}

describe('report downloads apply the URI policy to every redirect hop', () => {
  it.each([
    ['http://0.0.0.0', 'a non-loopback host over plain http'],
    ['http://[::ffff:127.0.0.1]', 'an IPv4-mapped IPv6 address over plain http'],
    ['http://[::ffff:7f00:1]', 'the same, in hex'],
    ['http://user:pass@127.0.0.1', 'credentials in the URL'],
    ['ftp://127.0.0.1', 'another scheme'],
  ])('a redirect to %s (%s) is refused and never requested', async (origin, _why) => {
    void _why;
    const evil = `${origin}:${port()}/downloads/evil.json`;
    server.on('GET', '/downloads/r.json', redirect(302, evil)).on('GET', '/downloads/evil.json', json(200, dailyReport()));
    const client = new EarnClient(server.config());
    const error = await failure(client.downloadReport({ uri: `${server.baseUrl}/downloads/r.json` }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'location', status: 302 });
    expect(error.message).toMatch(/redirect 1 \(302\) refused/);
    expect(server.requestsTo('GET', '/downloads/evil.json')).toEqual([]);
    // The same URI given directly is refused by the same policy.
    const direct = await failure(client.downloadReport({ uri: evil }));
    expect(direct.code).toBe('invalid_response');
    expect(server.requestsTo('GET', '/downloads/evil.json')).toEqual([]);
  });

  it('a downgrade from https to http is refused, even to loopback', async () => {
    const requested: string[] = [];
    // An https hop cannot be served on loopback without a certificate: the first hop is answered
    // by the injected fetch, the way a CDN would answer.
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = String(input);
      requested.push(url);
      if (url.startsWith('https://cdn.example.com/')) {
        expect(init?.redirect).toBe('manual');
        return new Response('moved', { status: 307, headers: { location: `${server.baseUrl}/downloads/plain.json` } });
      }
      return globalThis.fetch(input, init);
    };
    server.on('GET', '/downloads/plain.json', json(200, dailyReport()));
    const error = await failure(new EarnClient(server.config({ fetch })).downloadReport({ uri: 'https://cdn.example.com/r.json?sig=1' }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'location', status: 307 });
    expect(error.message).toContain('from https down to http:');
    expect(requested).toEqual(['https://cdn.example.com/r.json?sig=1']);
    expect(server.requestsTo('GET', '/downloads/plain.json')).toEqual([]);
  });

  it('a redirect the policy allows (relative, then absolute on loopback) is followed, and the report validated', async () => {
    server
      .on('GET', '/downloads/a.json', redirect(301, '/downloads/b.json?sig=2'))
      .on('GET', '/downloads/b.json', redirect(308, `http://localhost:${port()}/downloads/c.json`))
      .on('GET', '/downloads/c.json', json(200, dailyReport()));
    const report = await new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/a.json` });
    expect(report.id).toBe(dailyReport().id);
    expect(server.requestsTo('GET', '/downloads/b.json')[0]?.url.searchParams.get('sig')).toBe('2');
    // No hop receives the bearer token.
    for (const path of ['a', 'b', 'c']) expect(server.requestsTo('GET', `/downloads/${path}.json`)[0]?.headers.authorization).toBeUndefined();
  });

  it('a redirect loop ends with limit_exceeded after DOWNLOAD_REDIRECTS_MAX hops, not retried', async () => {
    server.on('GET', '/downloads/loop.json', redirect(302, '/downloads/loop.json'));
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/loop.json` }));
    expect(error.code).toBe('limit_exceeded');
    expect(server.requestsTo('GET', '/downloads/loop.json')).toHaveLength(DOWNLOAD_REDIRECTS_MAX + 1);
  });

  it('a redirect without a Location is refused', async () => {
    server.on('GET', '/downloads/r.json', (_request, response) => {
      response.writeHead(302);
      response.end();
    });
    const error = await failure(new EarnClient(server.config()).downloadReport({ uri: `${server.baseUrl}/downloads/r.json` }));
    expect(error).toMatchObject({ code: 'invalid_response', field: 'location' });
  });
});

describe('API calls never follow a redirect', () => {
  it('a 302 on an API call is an http_error with the status, tried once, its target never requested', async () => {
    server.on('GET', '/v1/products', redirect(302, `${server.baseUrl}/v1/elsewhere`)).on('GET', '/v1/elsewhere', json(200, { items: [] }));
    const error = await failure(new EarnClient(server.config()).listProducts());
    expect(error).toMatchObject({ code: 'http_error', status: 302 });
    expect(server.requestsTo('GET', '/v1/products')).toHaveLength(1);
    expect(server.requestsTo('GET', '/v1/elsewhere')).toEqual([]);
  });
});
