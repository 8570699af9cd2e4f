/**
 * The dashboard's front-end pieces, served from the package itself (no CDN: it works
 * offline): htmx 2 and uPlot from node_modules, and the dashboard's own script and style
 * sheet. Read once at start; each URL carries a hash of its content, so browsers may keep
 * them for a year and still get a new version the moment it changes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** One served file. */
export interface Asset {
  body: Buffer;
  contentType: string;
  /** `/dashboard/assets/NAME?v=HASH`: what pages link to. */
  url: string;
}

const require = createRequire(import.meta.url);

const SOURCES: Record<string, { path: () => string; contentType: string }> = {
  'htmx.min.js': { path: () => require.resolve('htmx.org/dist/htmx.min.js'), contentType: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), contentType: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), contentType: 'text/css; charset=utf-8' },
  'dashboard.js': { path: () => new URL('./static/dashboard.js', import.meta.url).pathname, contentType: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: () => new URL('./static/dashboard.css', import.meta.url).pathname, contentType: 'text/css; charset=utf-8' },
  'favicon.svg': { path: () => new URL('./static/favicon.svg', import.meta.url).pathname, contentType: 'image/svg+xml' },
};

/** The names pages use. */
export type AssetName = keyof typeof SOURCES;

/**
 * Every asset, read now.
 * @throws Error naming the file when one cannot be read (a broken install).
 */
export function loadAssets(base = '/dashboard/assets'): ReadonlyMap<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, src] of Object.entries(SOURCES)) {
    const path = src.path();
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch (err) {
      throw new Error(`the dashboard cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}): reinstall with npm install`, { cause: err });
    }
    const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
    out.set(name, { body, contentType: src.contentType, url: `${base}/${name}?v=${version}` });
  }
  return out;
}
