import './style.css';
import * as api from './api';
import { ShellDoc, type Ctx } from './context';
import { h, replace } from './dom';
import { lang, setLang, tr, nameOf } from './i18n';
import * as session from './session';
import { renderSignIn } from './pages/signin';
import { renderMe } from './pages/me';
import { renderCatalog } from './pages/catalog';
import { renderRequests } from './pages/requests';
import { renderData } from './pages/data';
import { renderAudit } from './pages/audit';
import { renderIndicators } from './pages/indicators';
import { renderMap } from './pages/map';

type Page = (main: HTMLElement, ctx: Ctx) => Promise<void> | void;

const pages: { path: string; zh: string; en: string; render: Page; show?: (ctx: Ctx) => boolean }[] = [
  { path: '', zh: '我的权限', en: 'My access', render: renderMe },
  { path: 'catalog', zh: '数据目录', en: 'Catalog', render: renderCatalog },
  { path: 'requests', zh: '共享申请', en: 'Access requests', render: renderRequests },
  { path: 'data', zh: '数据浏览', en: 'Data', render: renderData },
  { path: 'audit', zh: '审计', en: 'Audit', render: renderAudit },
  { path: 'indicators', zh: '考评指标', en: 'Indicators', render: renderIndicators },
  { path: 'map', zh: '地图', en: 'Map', render: renderMap },
];

const BASE = '/console/';
const root = document.getElementById('app')!;
let cleanups: (() => void)[] = [];
let ctxCache: Ctx | null = null;
// Why the last sign-in was refused, shown on the sign-in page.
let refused = '';

function currentPath(): string {
  return location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length).replace(/\/$/, '') : '';
}

export function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  void render();
}

function stopPage(): void {
  for (const f of cleanups) f();
  cleanups = [];
}

function liveRegion(): HTMLElement {
  return h('div', { id: 'status', className: 'status', role: 'status', 'aria-live': 'polite' });
}

async function loadCtx(status: HTMLElement): Promise<Ctx> {
  const d = await api.query(ShellDoc, {});
  const ctx: Ctx = {
    viewer: d.viewer,
    departments: d.departments,
    streets: [...d.jurisdictions, ...d.towns],
    district: d.district,
    status(msg, kind = 'ok') {
      status.className = 'status ' + kind;
      status.textContent = msg;
    },
    onCleanup(f) {
      cleanups.push(f);
    },
    rerender() {
      void render();
    },
  };
  return ctx;
}

function signOut(): void {
  session.clear();
  api.reset();
  ctxCache = null;
  navigate('');
}

function langSwitch(): HTMLElement {
  const other = lang() === 'zh' ? 'en' : 'zh';
  return h('button', {
    type: 'button', className: 'link', lang: other === 'zh' ? 'zh-CN' : 'en', id: 'lang-switch',
    'aria-label': other === 'zh' ? '切换到中文' : 'Switch to English',
    onclick: () => { setLang(other); void render(); },
  }, other === 'zh' ? '中文' : 'English');
}

async function render(): Promise<void> {
  stopPage();
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  const status = liveRegion();
  const cred = session.load();
  if (!cred) {
    ctxCache = null;
    const main = h('main', { id: 'main', tabindex: '-1' });
    replace(root, h('header', { className: 'top' }, h('h1', null, tr('丰城数据中枢 · 治理控制台', 'Fengcheng Data Hub · Governance console')), langSwitch()), status, main);
    document.title = tr('登录 · 治理控制台', 'Sign in · Governance console');
    if (refused) { status.className = 'status error'; status.textContent = refused; refused = ''; }
    await renderSignIn(main, (msg) => { status.className = 'status error'; status.textContent = msg; }, () => { ctxCache = null; void render(); });
    return;
  }
  let ctx: Ctx;
  try {
    ctx = ctxCache ?? (await loadCtx(status));
    ctxCache = ctx;
    ctx.status = (msg, kind = 'ok') => { status.className = 'status ' + kind; status.textContent = msg; };
  } catch (e) {
    const err = e as api.ApiError;
    session.clear();
    api.reset();
    refused = tr('登录被拒绝：', 'Sign-in refused: ') + err.message;
    void render();
    return;
  }
  const path = currentPath();
  const page = pages.find((p) => p.path === path) ?? pages[0];
  const v = ctx.viewer;
  const dept = v.department ? (lang() === 'zh' ? v.department.name : v.department.nameEn) : tr('无部门', 'no department');
  const exp = session.tokenExpiry(cred);
  const nav = h('nav', { 'aria-label': tr('主导航', 'Main') },
    h('ul', null, pages.filter((p) => !p.show || p.show(ctx)).map((p) =>
      h('li', null, h('a', {
        href: BASE + p.path, 'aria-current': p === page ? 'page' : null,
        onclick: (ev: Event) => { ev.preventDefault(); navigate(p.path); },
      }, tr(p.zh, p.en))))));
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(root,
    h('header', { className: 'top' },
      h('h1', null, tr('丰城数据中枢 · 治理控制台', 'Fengcheng Data Hub · Governance console')),
      h('div', { className: 'who', id: 'who' },
        h('span', { className: 'dept' }, dept),
        h('span', null, v.roles.map(nameOf).join('、')),
        h('span', { className: 'subject' }, v.subject),
        exp ? h('span', { className: 'muted' }, tr('令牌有效至 ', 'token until ') + exp.toLocaleTimeString()) : null,
        langSwitch(),
        h('button', { type: 'button', className: 'link', id: 'sign-out', onclick: signOut }, tr('退出', 'Sign out')))),
    nav, status, main);
  document.title = `${tr(page.zh, page.en)} · ${tr('治理控制台', 'Governance console')}`;
  try {
    await page.render(main, ctx);
  } catch (e) {
    ctx.status((e as Error).message, 'error');
  }
}

window.addEventListener('popstate', () => void render());
void render();
