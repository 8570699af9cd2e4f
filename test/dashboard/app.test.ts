/**
 * The dashboard over HTTP, without a browser: no dashboard without a password, sign-in and
 * its limit, cookies and headers, CSRF, idle expiry on an injected clock, the actions on
 * keys and tokens, and that no response ever holds a key or a token it should not.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenRegistry } from '../../src/gateway/tokens.ts';
import { request, postLogin, seenBodies, signIn, startWorld, PASSWORD, STATE_SECRET, type DashboardWorld } from './world.ts';

let world: DashboardWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const KEYS = ['test-key-1', 'test-key-2'];

describe('the dashboard over HTTP', () => {
  it('does not exist without a password: every /dashboard path is a 404 saying how to turn it on', async () => {
    world = await startWorld({ env: { DASHBOARD_PASSWORD: '' } });
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/login', '/dashboard/keys', '/dashboard/assets/htmx.min.js']) {
      const res = await request(`${world.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toMatch(/The dashboard is off\. Set DASHBOARD_PASSWORD/);
    }
    const post = await request(`${world.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ password: PASSWORD }) });
    expect(post.status).toBe(404);
  });

  it('refuses a wrong password (and a client token), then signs in with the right one: HttpOnly, SameSite=Strict cookie', async () => {
    world = await startWorld();
    expect((await request(`${world.url}/dashboard/keys`)).headers.get('location')).toBe('/dashboard/login');
    const wrong = await postLogin(world.url, 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong password.');
    expect(wrong.headers.getSetCookie().some((c) => c.startsWith('gp_dash='))).toBe(false);
    expect((await postLogin(world.url, world.token)).status).toBe(401);
    // A client token is never a dashboard credential, however it is presented.
    expect((await request(`${world.url}/dashboard/keys`, { headers: { authorization: `Bearer ${world.token}`, 'x-goog-api-key': world.token } })).status).toBe(303);

    const right = await postLogin(world.url, PASSWORD);
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/dashboard');
    const cookie = right.headers.getSetCookie().find((c) => c.startsWith('gp_dash='))!;
    expect(cookie).toMatch(/; Path=\/dashboard; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toMatch(/Secure/);
    const page = await request(`${world.url}/dashboard/keys`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('key#2');
  });

  it('marks the cookie Secure when a trusted proxy says the browser came over HTTPS, and only then', async () => {
    world = await startWorld({ env: { DASHBOARD_TRUST_PROXY: 'true' } });
    const https = await postLogin(world.url, PASSWORD, { 'x-forwarded-proto': 'https', origin: `https://${new URL(world.url).host}` });
    expect(https.status).toBe(303);
    expect(https.headers.getSetCookie().find((c) => c.startsWith('gp_dash='))).toMatch(/; Secure/);
    expect(https.headers.get('strict-transport-security')).toMatch(/max-age=/);
    await world.close();
    world = await startWorld();
    const untrusted = await postLogin(world.url, PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(untrusted.headers.getSetCookie().find((c) => c.startsWith('gp_dash='))).not.toMatch(/Secure/);
  });

  it('allows 5 sign-in attempts a minute per address: the 6th is refused even with the right password', async () => {
    world = await startWorld();
    for (let i = 0; i < 5; i++) expect((await postLogin(world.url, `wrong ${i} wrong wrong`)).status).toBe(401);
    const limited = await postLogin(world.url, PASSWORD);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(await limited.text()).toMatch(/Too many sign-in attempts from your address/);
    world.clock.t += 61_000;
    expect((await postLogin(world.url, PASSWORD)).status).toBe(303);
  });

  it('answers with strict security headers; serves htmx and uPlot from the package with a long cache', async () => {
    world = await startWorld();
    const s = await signIn(world.url);
    const page = await s.get('/dashboard');
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
    );
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    const require = createRequire(import.meta.url);
    for (const [name, file, type] of [
      ['htmx.min.js', 'htmx.org/dist/htmx.min.js', 'text/javascript; charset=utf-8'],
      ['uPlot.iife.min.js', 'uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
      ['uPlot.min.css', 'uplot/dist/uPlot.min.css', 'text/css; charset=utf-8'],
    ] as const) {
      const url = new RegExp(`/dashboard/assets/${name.replace('.', '\\.')}\\?v=[0-9a-f]{12}`).exec(html)?.[0];
      expect(url, name).toBeDefined();
      const res = await fetch(`${world.url}${url}`);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(require.resolve(file)))).toBe(true);
    }
  });

  it('refuses a change without the session\'s CSRF token, or from another origin', async () => {
    world = await startWorld();
    const s = await signIn(world.url);
    const hint = 'ey-1';
    const noToken = await s.post('/dashboard/keys/1/disable', { hint });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toMatch(/CSRF token/);
    const wrongToken = await s.post('/dashboard/keys/1/disable', { hint, _csrf: 'x'.repeat(43) });
    expect(wrongToken.status).toBe(403);
    const elsewhere = await s.post('/dashboard/keys/1/disable', { hint, _csrf: s.csrf }, { origin: 'http://evil.example' });
    expect(elsewhere.status).toBe(403);
    expect(world.services.pool.getKeyStats().keys[0]!.state).toBe('active');
    const ok = await s.post('/dashboard/keys/1/disable', { hint }, { 'x-csrf-token': s.csrf, 'hx-request': 'true' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('key#1 disabled.');
    expect(world.services.pool.getKeyStats().keys[0]).toMatchObject({ state: 'disabled', disabledByOperator: true });
    // A key whose last four characters are not what the page showed is left alone.
    const stale = await s.post('/dashboard/keys/2/disable', { hint: 'zzzz', _csrf: s.csrf });
    expect(await stale.text()).toMatch(/is not what the page showed/);
    expect(world.services.pool.getKeyStats().keys[1]!.state).toBe('active');
  });

  it('ends a session unused for DASHBOARD_SESSION_IDLE_MINUTES; an open live stream says so; logout ends it at once', async () => {
    world = await startWorld({ env: { DASHBOARD_SESSION_IDLE_MINUTES: '5' } });
    const s = await signIn(world.url);
    const events = await fetch(`${world.url}/dashboard/events/overview`, { headers: { cookie: s.cookie } });
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = events.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      for (let i = 0; i < 100 && !text.includes(needle); i++) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return text.includes(needle);
    };
    expect(await readUntil('event: overview')).toBe(true);
    const first = JSON.parse(/event: overview\ndata: (.*)\n/.exec(text)![1]!);
    expect(first.keys).toEqual({ total: 2, active: 2, cooling: 0, disabled: 0 });
    world.clock.t += 4 * 60_000;
    expect((await s.get('/dashboard/keys')).status).toBe(200);
    world.clock.t += 4 * 60_000;
    expect((await s.get('/dashboard/keys')).status).toBe(200);
    // The stream does not count as use: 8 minutes after the last page, the session is over.
    world.clock.t += 6 * 60_000;
    expect(await readUntil('event: expired')).toBe(true);
    await reader.cancel();
    const page = await s.get('/dashboard/keys');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/login');
    const htmx = await s.post('/dashboard/keys/1/disable', { hint: 'ey-1', _csrf: s.csrf }, { 'hx-request': 'true' });
    expect(htmx.status).toBe(401);
    expect(htmx.headers.get('hx-redirect')).toBe('/dashboard/login?expired=1');

    const again = await signIn(world.url);
    expect((await again.post('/dashboard/logout', { _csrf: again.csrf })).status).toBe(303);
    expect((await again.get('/dashboard/keys')).status).toBe(303);
  });

  it('creates a token shown once, edits and revokes it; the list never shows it again', async () => {
    world = await startWorld();
    const s = await signIn(world.url);
    const created = await s.post('/dashboard/tokens/create', { _csrf: s.csrf, name: 'ci-bot', rpm: '30', expires: '30d' });
    const html = await created.text();
    const token = /id="new-token" class="secret" readonly value="(gp-[A-Za-z0-9_-]{43})"/.exec(html)?.[1];
    expect(token).toBeDefined();
    expect(html).toContain('This is the only time it is shown');
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect((await world.registry.authenticate(token!)).ok).toBe(true);
    const list = await (await s.get('/dashboard/tokens')).text();
    expect(list).not.toContain(token!);
    expect(list).toContain(token!.slice(0, 7));
    expect(list).toContain('30/min');
    await s.post('/dashboard/tokens/ci-bot/update', { _csrf: s.csrf, rpm: '', rpd: '100', tpd: '', models: 'gemini-2.5-flash' });
    expect((await world.registry.list()).find((t) => t.name === 'ci-bot')).toMatchObject({ limits: { rpd: 100 }, models: ['gemini-2.5-flash'] });
    const dup = await s.post('/dashboard/tokens/create', { _csrf: s.csrf, name: 'ci-bot' });
    expect(await dup.text()).toMatch(/Not created: a token named ci-bot exists already/);
    await s.post('/dashboard/tokens/ci-bot/revoke', { _csrf: s.csrf });
    expect((await new TokenRegistry(world.services.store).authenticate(token!)).ok).toBe(false);
    // Kept out of the scan below: this one answer is where the token is meant to be.
    seenBodies.splice(seenBodies.findIndex((b) => b.includes(token!)), 1);
    expect(seenBodies.some((b) => b.includes(token!))).toBe(false);
  });

  it('adds a key (checked first), refuses a bad one with the verdict, removes it; keys of the configuration stay', async () => {
    world = await startWorld({ fake: { keys: [{ key: 'test-key-bad', status: 'invalid' }] } });
    const s = await signIn(world.url);
    const added = await (await s.post('/dashboard/keys/add', { _csrf: s.csrf, keys: 'test-key-new\ntest-key-bad', project: 'proj-n' })).text();
    expect(added).toContain('added ...-new (project proj-n) as key#3');
    expect(added).toContain('refused ...-bad: the check says: invalid');
    expect(added).not.toContain('test-key-new');
    expect(world.services.pool.keys.map((k) => k.id)).toEqual(['key#1', 'key#2', 'key#3']);
    const keysPage = await (await s.get('/dashboard/keys')).text();
    expect(keysPage).toMatch(/configuration \(read-only\)/);
    expect(keysPage).toContain('/dashboard/keys/3/remove');
    expect(keysPage).not.toContain('/dashboard/keys/1/remove');
    expect(await (await s.post('/dashboard/keys/1/remove', { _csrf: s.csrf, hint: 'ey-1' })).text()).toMatch(/key#1 comes from the configuration/);
    expect(await (await s.post('/dashboard/keys/3/remove', { _csrf: s.csrf, hint: '-new' })).text()).toMatch(/key#3 \(\.\.\.-new\) removed/);
    expect(world.services.pool.keys.map((k) => k.id)).toEqual(['key#1', 'key#2']);
    expect(await world.services.store.listApiKeys()).toEqual([]);
  });

  it('refuses to add keys without STATE_SECRET, and says why on the page', async () => {
    world = await startWorld({ env: { STATE_SECRET: '' } });
    const s = await signIn(world.url);
    expect(await (await s.get('/dashboard/keys')).text()).toMatch(/Keys cannot be added here: STATE_SECRET is not set/);
    const refused = await (await s.post('/dashboard/keys/add', { _csrf: s.csrf, keys: 'test-key-new' })).text();
    expect(refused).toMatch(/STATE_SECRET is not set/);
    expect(world.services.pool.keys).toHaveLength(2);
  });

  it('settings: every variable with its source, secrets masked', async () => {
    world = await startWorld();
    const s = await signIn(world.url);
    const html = await (await s.get('/dashboard/settings')).text();
    expect(html).toMatch(/GEMINI_API_KEYS<\/th><td class="mono">2 keys \(hidden\)<\/td><td class="">\.env file<\/td>/);
    expect(html).toMatch(/STORE<\/th><td class="mono">memory<\/td><td class="">environment<\/td>/);
    expect(html).toMatch(/GEMINI_POOL_SIZE<\/th><td class="mono">5<\/td><td class="muted">default<\/td>/);
    expect(html).toMatch(/DASHBOARD_PASSWORD<\/th><td class="mono">set \(hidden\)/);
    expect(html).toMatch(/STATE_SECRET<\/th><td class="mono">set \(hidden\)/);
    expect(html).not.toContain(PASSWORD);
    expect(html).not.toContain(STATE_SECRET);
  });

  it('request log: filters and the CSV export', async () => {
    world = await startWorld();
    const s = await signIn(world.url);
    const body = JSON.stringify({ contents: [{ parts: [{ text: 'hello' }] }] });
    for (let i = 0; i < 3; i++) {
      await fetch(`${world.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': world.token, 'content-type': 'application/json' }, body });
    }
    world.fake.inject({ type: 'status', status: 400, message: 'bad input' }, { times: 1 });
    await fetch(`${world.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': world.token, 'content-type': 'application/json' }, body });
    // Rows reach the store within the log's flush interval.
    let rows = 0;
    for (let i = 0; i < 100 && rows < 4; i++) {
      rows = (await world.services.store.queryRequestLog({})).length;
      if (rows < 4) await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows).toBe(4);
    const page = await (await s.get('/dashboard/logs?status=200&range=1h')).text();
    expect(page.match(/<tr><td class="mono">/g)).toHaveLength(3);
    const csv = await s.get('/dashboard/logs.csv?status=400');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="request-log-/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('time,token,route,model,key,status,kind,attempts,latency_ms,tokens_in,tokens_out,streamed');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^[0-9T:.-]+Z,web-app,\/v1beta\/models\/gemini-2\.5-flash:generateContent,gemini-2\.5-flash,key#\d,400,bad_request,1,/);
  });

  it('no response the dashboard gave in these tests holds a key, the password, STATE_SECRET or a client token', () => {
    expect(seenBodies.length).toBeGreaterThan(20);
    for (const body of seenBodies) {
      for (const secret of [...KEYS, 'test-key-new', 'test-key-bad', PASSWORD, STATE_SECRET]) expect(body).not.toContain(secret);
      expect(body).not.toMatch(/gp-[A-Za-z0-9_-]{43}/);
    }
  });
});

afterAll(() => {
  seenBodies.length = 0;
});
