// The API explorer at "/" (GraphiQL bundled into the hub) in headless
// Chromium with every request to another origin refused: the editor must
// render and a query must return data from the hub alone.
//
//   node explorer.mjs --url http://127.0.0.1:PORT --chromium /usr/bin/chromium --out DIR
//
// Prints one JSON line; exits non-zero when a step fails.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'console', 'package.json'));
const { chromium } = require('playwright-core');

const { values: args } = parseArgs({ options: { url: { type: 'string' }, chromium: { type: 'string' }, out: { type: 'string' } } });
const origin = new URL(args.url).origin;
mkdirSync(args.out, { recursive: true });
const result = { ok: false, offsite: [], cspViolations: [], pageErrors: [] };

const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  // No network but the hub: anything else is refused and recorded.
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    result.offsite.push(u);
    return route.abort('internetdisconnected');
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) result.cspViolations.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await page.goto(origin + '/');
  await page.locator('.graphiql-container').waitFor();
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  result.title = await page.title();
  await page.locator('.graphiql-execute-button').click();
  await page.waitForFunction(() => {
    const el = document.querySelector('.result-window');
    return el && el.textContent && el.textContent.includes('minorCode');
  });
  const text = await page.locator('.result-window').textContent();
  result.resultHasData = text.includes('"caseClasses"') && text.includes('"emergency"');
  await page.screenshot({ path: join(args.out, 'explorer.png') });
  result.ok = result.resultHasData;
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(result.ok ? 0 : 1);
