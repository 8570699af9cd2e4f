/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the
 * gateway on the real pool and the fake Gemini. One browser for the file, a fresh context
 * (cookies) per test, a timeout on every wait. Each test saves a screenshot under
 * test-output/screenshots/. Every response the browser sees is kept and scanned: no key
 * anywhere, and a client token only in the one answer that creates it. No console error
 * (a CSP violation is one) may happen but the refusals a test asks for.
 *
 * Skipped, with the reason, only when no Chromium is installed and CI is not set; under CI
 * a missing Chromium fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, STATE_SECRET, startWorld, type DashboardWorld } from './world.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const KEYS = ['test-key-1', 'test-key-2', 'test-key-3'];
const MODEL = 'gemini-2.5-flash';
const WAIT_MS = 10_000;

const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && !process.env.CI;
if (skip) process.stderr.write(`dashboard browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); with CI set they run and fail\n`);

describe.skipIf(skip)('the dashboard in a real browser', () => {
  let browser: Browser;
  let world: DashboardWorld;
  /** Every non-streamed response body the browser received, with its URL. */
  const bodies: Array<{ url: string; body: string }> = [];
  /** Console errors and page errors, per test. */
  let problems: string[] = [];
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
      timeout: 30_000,
    });
    world = await startWorld({ keys: ['proj-a:test-key-1', 'proj-b:test-key-2'], env: { GEMINI_RPD: '250' }, liveIntervalMs: 300 });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await world?.close();
  });

  /** A fresh context and page (no cookies), its responses kept and its errors collected. */
  async function open(options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<Page> {
    await context?.close();
    problems = [];
    context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light', baseURL: world.url });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: world.url });
    context.on('response', (r) => {
      if ((r.headers()['content-type'] ?? '').startsWith('text/event-stream')) return;
      r.text().then((body) => bodies.push({ url: r.url(), body }), () => undefined);
    });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    return page;
  }

  async function signIn(page: Page): Promise<void> {
    // Every test signs in from 127.0.0.1: a minute passes on the dashboard's clock between
    // them, so the limit of 5 sign-ins a minute per address holds them back no more than it would people.
    world.clock.t += 61_000;
    await page.goto('/dashboard/login');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL('**/dashboard');
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const client = (token: string) => new OpenAI({ apiKey: token, baseURL: `${world.url}/v1`, maxRetries: 0, timeout: WAIT_MS });
  const ask = (token: string, text: string) => client(token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: text }] });

  /** Polls `check` (at most `WAIT_MS`, 50 ms apart). */
  async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < WAIT_MS / 50; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not reached within ${WAIT_MS} ms: ${what}`);
  }

  it('refuses a wrong password, then signs in; the overview is live (chart, keys, answers, quota)', async () => {
    for (let i = 0; i < 8; i++) await ask(world.token, `question ${i}`);
    world.fake.inject({ type: 'rateLimit', per: 'minute', retryDelay: '240s' }, { times: 1 });
    await ask(world.token, 'one that meets a rate limit');
    const page = await open();
    await page.goto('/dashboard');
    await page.waitForURL('**/dashboard/login');
    await page.fill('#password', 'not the password, sorry');
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]')).toBe('Wrong password.');
    await shot(page, 'login-refused');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL('**/dashboard');
    await page.waitForSelector('#overview-live[data-state=on]');
    await page.waitForSelector('#traffic-chart canvas');
    expect(await page.textContent('#k-total')).toBe('2');
    expect(await page.textContent('#k-cooling')).toBe('1');
    await until(async () => Number(await page.textContent('#t-hour')) >= 9, 'the overview counts the requests');
    expect(await page.locator('#kinds tr').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^ok\d+$/)]));
    expect(await page.locator('#quota tr').first().textContent()).toMatch(/^proj-[ab]gemini-2\.5-flash\d+250/);
    await shot(page, 'overview');
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
  });

  it('adds a key: checked, stored sealed, and the pool sends requests with it', async () => {
    const page = await open();
    await signIn(page);
    await page.click('nav >> text=Keys');
    await page.fill('#new-keys', `${KEYS[2]}\nnot a key`);
    await page.fill('#new-project', 'proj-c');
    await page.click('button:has-text("Check and add")');
    await page.waitForSelector('text=added ...ey-3 (project proj-c) as key#3');
    expect(await page.textContent('#keys-region')).toContain('refused line 2: has whitespace inside');
    expect(await page.inputValue('#new-keys')).toBe('');
    expect(await page.locator('#key-3').textContent()).toMatch(/key#3\.\.\.ey-3proj-cadded here/);
    const stored = await world.services.store.listApiKeys();
    expect(stored.map((k) => k.hint)).toEqual(['ey-3']);
    expect(stored[0]!.sealed).not.toContain(KEYS[2]);
    // The fake Gemini sees the new key in its requests.
    await until(async () => {
      await ask(world.token, 'use the new key');
      return world.fake.requestsFor(KEYS[2]!).length > 0;
    }, 'a request with the added key');
    await shot(page, 'keys-added');
    expect(problems).toEqual([]);
  });

  it('disables a key: requests avoid it until it is enabled again', async () => {
    const page = await open();
    await signIn(page);
    await page.goto('/dashboard/keys');
    await page.click('#key-2 button:has-text("Disable")');
    await page.waitForSelector('text=key#2 disabled.');
    expect(await page.locator('#key-2').textContent()).toMatch(/disabledby an operator/);
    const before = world.fake.requestsFor(KEYS[1]!).length;
    for (let i = 0; i < 6; i++) await ask(world.token, `avoid key 2, ${i}`);
    expect(world.fake.requestsFor(KEYS[1]!)).toHaveLength(before);
    await page.click('a:has-text("Refresh")');
    await page.waitForSelector('#key-2 button:has-text("Enable")');

    await shot(page, 'keys');
    await page.click('#key-2 button:has-text("Enable")');
    await page.waitForSelector('text=key#2 enabled.');
    expect(world.services.pool.getKeyStats().keys[1]!.state).toBe('active');
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('creates a token (shown once, copied), sees its request in the live log, revokes it: then 401', async () => {
    const page = await open();
    page.on('dialog', (d) => void d.accept());
    await signIn(page);
    await page.goto('/dashboard/tokens');
    await page.fill('#token-name', 'browser-app');
    await page.fill('#new-rpm', '60');
    await page.click('button:has-text("Create token")');
    const token = await page.inputValue('#new-token');
    expect(token).toMatch(/^gp-[A-Za-z0-9_-]{43}$/);
    await page.click('button[data-copy=new-token]');
    await page.waitForSelector('button[data-copy=new-token]:has-text("Copied")');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(token);
    await shot(page, 'token-created');

    await page.goto('/dashboard/logs');
    await page.click('#tail-toggle');
    await page.waitForSelector('#log-live[data-state=on]');
    const answer = await ask(token, 'from the browser test');
    expect(answer.choices[0]!.message.content).toContain('from the browser test');
    await page.waitForSelector('#log-rows tr:has-text("browser-app")');
    expect(await page.locator('#log-rows tr:has-text("browser-app")').first().textContent()).toMatch(/browser-app\/v1\/chat\/completionsgemini-2\.5-flashkey#\d200/);
    await shot(page, 'request-log-live');

    await page.goto('/dashboard/tokens');
    await page.click('button[aria-label="Revoke browser-app"]');
    await page.waitForSelector('text=Token browser-app revoked');
    await until(async () => (await ask(token, 'after revoke').then(() => false, (e: unknown) => e instanceof OpenAI.AuthenticationError)), 'a 401 for the revoked token');
    // The one answer that held the token is the one that created it.
    const holding = bodies.filter((b) => b.body.includes(token));
    expect(holding.map((b) => new URL(b.url).pathname)).toEqual(['/dashboard/tokens/create']);
    expect(problems).toEqual([]);
  });

  it('refuses a POST without the CSRF token, even from its own page', async () => {
    const page = await open();
    await signIn(page);
    await page.goto('/dashboard/keys');
    // From the page itself: same origin, the session's cookie, only the CSRF token missing.
    const status = await page.evaluate(`fetch('/dashboard/keys/1/disable', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'hint=ey-1' }).then((r) => r.status)`);
    expect(status).toBe(403);
    expect(world.services.pool.getKeyStats().keys[0]!.state).not.toBe('disabled');
    await shot(page, 'csrf-refused');
    expect(problems.filter((p) => !/403/.test(p))).toEqual([]);
  });

  it('reads on a phone in dark mode, and works from the keyboard', async () => {
    const page = await open({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await signIn(page);
    await page.waitForSelector('#overview-live[data-state=on]');
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(bg).toBe('rgb(21, 23, 27)');
    await shot(page, 'overview-phone-dark');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    for (let i = 0; i < 2; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Keys');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/dashboard/keys');
    // Nothing kept in the browser's storage but htmx's note of the page's path; the session
    // cookie is out of the page's reach.
    expect(await page.evaluate('[localStorage.length, document.cookie]')).toEqual([0, '']);
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => k !== "htmx-current-path-for-history")')).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('ends an idle session: the open page goes to the sign-in page by itself', async () => {
    const page = await open();
    await signIn(page);
    await page.waitForSelector('#overview-live[data-state=on]');
    world.clock.t += 31 * 60_000;
    await page.waitForURL('**/dashboard/login?expired=1');
    expect(await page.textContent('[role=alert]')).toBe('Your session ended. Sign in again.');
    await page.goto('/dashboard/keys');
    await page.waitForURL('**/dashboard/login');
    await shot(page, 'session-expired');
    expect(problems).toEqual([]);
  });

  it('no response the browser received holds a key, the password or STATE_SECRET', () => {
    expect(bodies.length).toBeGreaterThan(30);
    for (const { url, body } of bodies) {
      for (const secret of [...KEYS, PASSWORD, STATE_SECRET]) expect(body, url).not.toContain(secret);
      if (new URL(url).pathname !== '/dashboard/tokens/create') expect(body, url).not.toMatch(/gp-[A-Za-z0-9_-]{43}/);
    }
  });
});
