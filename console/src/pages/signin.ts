import * as api from '../api';
import { field, h } from '../dom';
import { lang, tr } from '../i18n';
import * as session from '../session';

interface Persona { id: string; name: string; nameEn: string; dept: string; org?: string; roles: string[] }

// renderSignIn: a token or API key pasted by the user, or (development
// hubs only) a demo persona whose token the hub mints.
export async function renderSignIn(main: HTMLElement, fail: (msg: string) => void, done: () => void): Promise<void> {
  const kind = h('select', { id: 'cred-kind' },
    h('option', { value: 'token' }, tr('令牌（JWT）', 'Token (JWT)')),
    h('option', { value: 'apikey' }, tr('API 密钥', 'API key')));
  const secret = h('textarea', { id: 'cred-secret', rows: 4, autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h('form', {
    className: 'card signin', 'aria-labelledby': 'signin-h',
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      const value = secret.value.trim();
      if (!value) { fail(tr('请填写令牌或密钥', 'Enter a token or key')); return; }
      session.save({ kind: kind.value as 'token' | 'apikey', secret: value });
      api.reset();
      done();
    },
  },
  h('h2', { id: 'signin-h' }, tr('登录', 'Sign in')),
  field(tr('凭证类型', 'Credential'), kind),
  field(tr('令牌或密钥', 'Token or key'), secret, tr('凭证只保存在本标签页（sessionStorage），关闭即清除。', 'Kept in this tab only (sessionStorage), gone when it closes.')),
  h('button', { type: 'submit', className: 'primary' }, tr('登录', 'Sign in')));
  main.replaceChildren(form);

  // The development login exists only on development hubs (404 otherwise).
  const r = await fetch('/console/dev-login', { credentials: 'omit' }).catch(() => null);
  if (!r || !r.ok) return;
  const { personas } = (await r.json()) as { personas: Persona[] };
  const list = h('ul', { className: 'personas' }, personas.map((p) =>
    h('li', null, h('button', {
      type: 'button', className: 'persona', 'data-persona': p.id,
      onclick: async () => {
        const res = await fetch('/console/dev-login', {
          method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ persona: p.id }),
        });
        if (!res.ok) { fail(tr('演示登录失败', 'Demo sign-in failed')); return; }
        const { token } = (await res.json()) as { token: string };
        session.save({ kind: 'token', secret: token });
        api.reset();
        done();
      },
    }, h('strong', null, lang() === 'zh' ? p.name : p.nameEn), h('small', null, `${p.dept || p.org || ""} · ${p.roles.join(', ')}`)))));
  main.appendChild(h('section', { className: 'card', 'aria-labelledby': 'dev-h' },
    h('h2', { id: 'dev-h' }, tr('开发模式演示账号', 'Development demo users')),
    h('p', { className: 'muted' }, tr('仅开发模式可用：中枢签发一个演示令牌。生产环境不提供此入口。', 'Development mode only: the hub mints a demo token. Production hubs have no such entry.')),
    list));
}
