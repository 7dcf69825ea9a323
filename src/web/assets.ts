import { sha256Hex } from '../shared/sha256.ts';
import { CLIENT_JS } from './client-js.ts';
import { STYLE_CSS } from './style-css.ts';

export interface Asset {
  /** Content-hashed file name under /assets/, e.g. app.3f2a9c01b7d4.js. */
  name: string;
  contentType: string;
  body: string;
  etag: string;
}

export interface Assets {
  js: Asset;
  css: Asset;
  byName: ReadonlyMap<string, Asset>;
}

async function asset(stem: string, ext: string, contentType: string, body: string): Promise<Asset> {
  const hash = (await sha256Hex(body)).slice(0, 12);
  return { name: `${stem}.${hash}.${ext}`, contentType, body, etag: `"${hash}"` };
}

let table: Promise<Assets> | undefined;

/** The page's script and stylesheet under content-hashed names (computed once per isolate). */
export function assets(): Promise<Assets> {
  table ??= (async function hashAssets(): Promise<Assets> {
    const js = await asset('app', 'js', 'text/javascript; charset=utf-8', CLIENT_JS);
    const css = await asset('style', 'css', 'text/css; charset=utf-8', STYLE_CSS);
    return { js, css, byName: new Map([js, css].map((a) => [a.name, a])) };
  })();
  return table;
}
