// Chinese by default, English on request; the choice (not a credential)
// is kept in localStorage. Labels are written in place as tr('中文', 'English').
export type Lang = 'zh' | 'en';

const KEY = 'datahub.console.lang';
let current: Lang = localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

export function tr(zh: string, en: string): string {
  return current === 'zh' ? zh : en;
}

// Names of codes the API returns.
const names: Record<string, [string, string]> = {
  public: ['公开', 'public'],
  unconditional: ['无条件共享', 'unconditional'],
  conditional: ['有条件共享', 'conditional'],
  'not-shared': ['不予共享', 'not shared'],
  personal: ['个人信息', 'personal'],
  visible: ['可见', 'visible'],
  masked: ['脱敏', 'masked'],
  denied: ['不可见', 'denied'],
  grant: ['需授权', 'by grant'],
  'masked, grant': ['脱敏（授权后可见）', 'masked, visible by grant'],
  PENDING: ['待审批', 'pending'],
  APPROVED: ['已批准', 'approved'],
  REJECTED: ['已驳回', 'rejected'],
  REVOKED: ['已撤销', 'revoked'],
  EXPIRED: ['已过期', 'expired'],
  NAME: ['姓名：保留姓', 'name: surname kept'],
  PHONE: ['电话：保留前3后4位', 'phone: first 3 and last 4'],
  ID_NUMBER: ['证件号：保留前4后4位', 'ID number: first 4 and last 4'],
  PLATE: ['车牌：保留省市和后2位', 'plate: province, city, last 2'],
  admin: ['管理员', 'admin'],
  officer: ['业务员', 'officer'],
  viewer: ['查看员', 'viewer'],
  dispatcher: ['指挥调度', 'dispatcher'],
  'street-officer': ['街道执法队员', 'street officer'],
  'grid-worker': ['网格员', 'grid worker'],
  system: ['部门系统', 'system'],
  auditor: ['审计员', 'auditor'],
  evaluator: ['评估组', 'evaluator'],
  'citizen-app': ['市民端', 'citizen app'],
  cases: ['城管案件', 'cases'],
  violations: ['违法行为', 'violations'],
  properties: ['住宅小区', 'properties'],
  parking: ['停车泊位', 'parking'],
  audit: ['审计日志', 'audit trail'],
  evaluation: ['第三方评估', 'evaluation'],
};

export function nameOf(code: string): string {
  const n = names[code];
  return n ? tr(n[0], n[1]) : code;
}
