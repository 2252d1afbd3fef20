/**
 * Headless Chromium for the HTML summary tests: a screenshot (decoded here, no image library)
 * and the page's layout measured by a script added to a copy of the page. Chromium runs with a
 * fresh profile, no sandbox, no GPU and nothing that reaches the network on its own.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const run = promisify(execFile);

function which(name: string): string | undefined {
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The Chromium found on the PATH, or undefined (the tests then say loudly that they skip). */
export const CHROMIUM: string | undefined = process.env['EARNBOOK_CHROMIUM'] ?? which('chromium') ?? which('chromium-browser') ?? which('google-chrome');

/** Prints the skip where a person reads it: a missing browser never passes a test silently. */
export function warnIfNoChromium(suite: string): void {
  if (CHROMIUM === undefined) console.warn(`[${suite}] Chromium is not installed: the headless browser test is SKIPPED (apt-get install -y chromium)`);
}

const FLAGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--hide-scrollbars',
  '--disable-extensions',
]);

/** What the layout script measured, at the window's width. */
export interface PageLayout {
  readonly viewportWidth: number;
  readonly documentWidth: number;
  /** Elements that reach past the right edge of the window, or tables wider than their box. */
  readonly overflowing: readonly string[];
  readonly svgCount: number;
}

const LAYOUT_SCRIPT = `<script>
(() => {
  const overflowing = [];
  const describe = (element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + (element.className && typeof element.className === 'string' ? '.' + element.className.split(' ').join('.') : '');
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > innerWidth + 0.5) overflowing.push(describe(element) + ' right=' + Math.round(box.right));
  }
  for (const table of document.querySelectorAll('table')) {
    const parent = table.parentElement;
    if (parent && table.getBoundingClientRect().width > parent.clientWidth + 0.5) overflowing.push(describe(table) + ' wider than its box: ' + Math.round(table.getBoundingClientRect().width) + ' > ' + parent.clientWidth);
  }
  const result = { viewportWidth: innerWidth, documentWidth: document.documentElement.scrollWidth, overflowing, svgCount: document.querySelectorAll('svg').length };
  const out = document.createElement('pre');
  out.id = '__layout';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
})();
</script>`;

/** A decoded screenshot: RGBA pixels. */
export interface Screenshot {
  readonly width: number;
  readonly height: number;
  readonly rgba: Buffer;
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
export function decodePng(png: Buffer): Screenshot {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) throw new Error(`unsupported PNG: depth ${depth}, color type ${colorType}, interlace ${interlace}`);
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let row = 0; row < height; row++) {
    const filter = raw[row * (stride + 1)];
    for (let column = 0; column < stride; column++) {
      const value = raw[row * (stride + 1) + 1 + column] ?? 0;
      const left = column >= channels ? (pixels[row * stride + column - channels] ?? 0) : 0;
      const up = row > 0 ? (pixels[(row - 1) * stride + column] ?? 0) : 0;
      const upLeft = row > 0 && column >= channels ? (pixels[(row - 1) * stride + column - channels] ?? 0) : 0;
      const predicted = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0;
      pixels[row * stride + column] = (value + predicted) & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  for (let index = 0; index < width * height; index++) {
    pixels.copy(rgba, index * 4, index * channels, index * channels + 3);
    rgba[index * 4 + 3] = channels === 4 ? (pixels[index * channels + 3] ?? 255) : 255;
  }
  return { width, height, rgba };
}

/** How much of a screenshot is not its most common colour, and how many colours it has. */
export function inkOf(shot: Screenshot): { readonly share: number; readonly colors: number } {
  const counts = new Map<number, number>();
  for (let index = 0; index < shot.width * shot.height; index++) {
    const color = shot.rgba.readUInt32BE(index * 4);
    counts.set(color, (counts.get(color) ?? 0) + 1);
  }
  const background = Math.max(...counts.values());
  return { share: 1 - background / (shot.width * shot.height), colors: counts.size };
}

async function chromium(args: readonly string[], profile: string): Promise<string> {
  const { stdout } = await run(CHROMIUM as string, [...FLAGS, `--user-data-dir=${profile}`, ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * Opens an HTML file in headless Chromium at `width` × `height`: its screenshot, and its layout
 * measured on a copy of the page with the measuring script added (and the page's
 * Content-Security-Policy, which forbids scripts, left out of the copy only).
 */
export async function renderInChromium(path: string, options: { width: number; height: number }): Promise<{ screenshot: Screenshot; layout: PageLayout }> {
  const work = await mkdtemp(join(tmpdir(), 'earnbook-chromium-'));
  try {
    const window = `--window-size=${options.width},${options.height}`;
    await chromium([window, `--screenshot=${join(work, 'page.png')}`, pathToFileURL(path).href], join(work, 'profile-1'));
    const screenshot = decodePng(await readFile(join(work, 'page.png')));
    const page = (await readFile(path, 'utf8')).replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('</body>', `${LAYOUT_SCRIPT}</body>`);
    // Next to the original, so relative links resolve the same.
    const copy = join(dirname(path), `.layout-${process.pid}-${Date.now()}.html`);
    await writeFile(copy, page);
    let dom: string;
    try {
      dom = await chromium([window, '--dump-dom', pathToFileURL(copy).href], join(work, 'profile-2'));
    } finally {
      await rm(copy, { force: true });
    }
    const match = /<pre id="__layout">([^<]*)<\/pre>/.exec(dom);
    if (match === null || match[1] === undefined) throw new Error('the layout script did not run');
    const layout = JSON.parse(match[1].replaceAll('&quot;', '"').replaceAll('&gt;', '>').replaceAll('&lt;', '<').replaceAll('&amp;', '&')) as PageLayout;
    return { screenshot, layout };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
