// End-to-end run of the governance console in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core from console/node_modules; no
// browser download). Driven by console_test.go, which starts the hub.
//
//   node e2e.mjs --url http://127.0.0.1:PORT --chromium /usr/bin/chromium --out DIR
//
// Prints one JSON line with what it saw; exits non-zero on any failed step.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'console', 'package.json'));
const { chromium } = require('playwright-core');

const { values: args } = parseArgs({ options: { url: { type: 'string' }, chromium: { type: 'string' }, out: { type: 'string' } } });
const base = args.url.replace(/\/$/, '') + '/console/';
mkdirSync(args.out, { recursive: true });
const result = { steps: [], cspViolations: [], pageErrors: [] };
const step = (s) => { result.steps.push(s); process.stderr.write(`step: ${s}\n`); };

const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const T = 15000;
let lastPage = null;

async function user(persona) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await ctx.newPage();
  lastPage = page;
  page.setDefaultTimeout(T);
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) result.cspViolations.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  await page.goto(base);
  await page.locator(`button[data-persona="${persona}"]`).click();
  await page.locator('#who').waitFor();
  return page;
}

async function go(page, path) {
  lastPage = page;
  await page.goto(base + path);
  await page.locator('#who').waitFor();
}

async function shot(page, name) {
  await page.screenshot({ path: join(args.out, `${name}.png`), fullPage: false });
}

async function phones(page) {
  await page.locator('#cases-table').waitFor();
  return page.locator('#cases-table .phone').allTextContents();
}

// Waits until the case table's phones are all masked (want true) or all
// unmasked; returns the milliseconds it took.
async function waitPhones(page, masked, within) {
  const start = Date.now();
  for (;;) {
    const ps = (await phones(page)).filter((p) => p !== '—');
    if (ps.length > 0 && ps.every((p) => p.includes('*') === masked)) return Date.now() - start;
    if (Date.now() - start > within) throw new Error(`phones not ${masked ? 'masked' : 'unmasked'} within ${within} ms: ${ps.slice(0, 5).join(', ')}`);
    await page.waitForTimeout(100);
  }
}

try {
  // The sign-in page, before anyone signs in.
  {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const p = await ctx.newPage();
    await p.goto(base);
    await p.locator('button[data-persona="water-officer"]').waitFor();
    await shot(p, 'signin');
    await ctx.close();
  }

  // Water officer: who am I, then request case reporters in Chengdong.
  const water = await user('water-officer');
  const dept = await water.locator('#who .dept').textContent();
  if (!dept.includes('水利局')) throw new Error(`header shows ${dept}, want 水利局`);
  await water.locator('#my-access').waitFor();
  await shot(water, 'me');
  step('water officer signed in');

  await go(water, 'requests');
  await water.locator('#req-dataset').selectOption('cases');
  await water.locator('#req-groups input[value="reporter"]').check();
  await water.locator('#req-jurisdiction').selectOption('hailing.chengdong');
  await water.locator('#req-purpose').fill('积水点报案人回访');
  await water.locator('#request-form button[type=submit]').click();
  await water.locator('#mine .st-PENDING').first().waitFor();
  step('access requested');

  // The water officer watches Chengdong's cases: masked for now.
  await go(water, 'data');
  await water.locator('#data-jurisdiction').selectOption('hailing.chengdong');
  await waitPhones(water, true, 5000);
  step('reporters masked before the grant');

  // Urban-management admin approves from the inbox.
  const admin = await user('um-admin');
  await go(admin, 'requests');
  await admin.locator('#inbox button.approve').first().waitFor();
  await shot(admin, 'requests');
  await admin.locator('#inbox button.approve').first().click();
  await admin.locator('#grants button.revoke').first().waitFor();
  const approvedAt = Date.now();
  step('approved');

  // Back with the water officer: unmasked in Chengdong, live.
  const unmaskMs = await waitPhones(water, false, 3000);
  result.unmaskMs = unmaskMs + (Date.now() - approvedAt - unmaskMs);
  await shot(water, 'data');
  await water.locator('#data-jurisdiction').selectOption('hailing.chengxi');
  await waitPhones(water, true, 5000);
  step('Chengxi stays masked');
  await water.locator('#data-jurisdiction').selectOption('hailing.chengdong');
  await waitPhones(water, false, 5000);
  step('Chengdong unmasked');

  // The catalog shows the grant.
  await go(admin, 'catalog');
  await admin.locator('#ds-cases').waitFor();
  await admin.locator('#ds-cases .countdown').first().waitFor();
  await shot(admin, 'catalog');

  // The auditor sees the water officer's read.
  const auditor = await user('um-auditor');
  await go(auditor, 'audit');
  await auditor.locator('#chain-status').waitFor();
  const chain = await auditor.locator('#chain-status').textContent();
  if (!chain.includes('✔')) throw new Error(`chain status: ${chain}`);
  await auditor.locator('#audit-from').fill('');
  await auditor.locator('#audit-dept').selectOption('water');
  await auditor.locator('#audit-dataset').selectOption('cases');
  await auditor.locator('#audit-filter button[type=submit]').click();
  await auditor.locator('#audit-table tbody tr td', { hasText: 'reporter' }).first().waitFor();
  await auditor.locator('#week-table').waitFor();
  await shot(auditor, 'audit');
  step('audit shows the read');

  // Revoke: masked again, live.
  await go(admin, 'requests');
  await admin.locator('#grants button.revoke').first().click();
  const revokedAt = Date.now();
  await waitPhones(water, true, 3000);
  result.maskMs = Date.now() - revokedAt;
  step('revoked and masked again');

  // Indicators: a year of the seeded data.
  await go(water, 'indicators');
  await water.locator('#ind-from').fill('2025-01');
  await water.locator('#ind-to').fill('2025-10');
  await water.locator('#ind-show').click();
  await water.locator('#ind-table table').waitFor();
  await water.waitForTimeout(500);
  await water.locator('#ind-chart').screenshot({ path: join(args.out, 'indicators-chart.png') });
  // Hover a point: the tooltip names numerator, denominator and formula.
  await shot(water, 'indicators');
  result.suppressedCells = await water.locator('#ind-table td.suppressed').count();
  step('indicators drawn');

  // The map draws points.
  await go(water, 'map');
  await water.locator('#map-chart[data-points]').waitFor();
  result.mapPoints = Number(await water.locator('#map-chart').getAttribute('data-points'));
  await water.locator('#jur-tree button[data-code="hailing.chengdong"]').click();
  await water.waitForTimeout(300);
  result.mapPointsChengdong = Number(await water.locator('#map-chart').getAttribute('data-points'));
  await shot(water, 'map');
  step('map drawn');

  // English labels.
  await water.locator('#lang-switch').click();
  await water.locator('nav a', { hasText: 'Catalog' }).waitFor();
  step('English');

  // Credentials never in the URL; in sessionStorage only.
  result.urlHasToken = /eyJ/.test(water.url());
  result.localStorageHasToken = await water.evaluate(() => JSON.stringify(localStorage).includes('eyJ'));
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.stack || e);
  if (lastPage) {
    result.pageText = await lastPage.evaluate(() => document.body.innerText.slice(0, 2000)).catch(() => '');
    await lastPage.screenshot({ path: join(args.out, 'failure.png') }).catch(() => undefined);
  }
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}
