import { graphql } from './gql';
import type { ShellQuery } from './gql/graphql';
import { lang } from './i18n';

export const ShellDoc = graphql(`
  query Shell {
    viewer { subject kind roles jurisdiction citizenId department { code name nameEn kind } }
    departments { code name nameEn kind }
    jurisdictions(level: STREET) { ...StreetFields }
    towns: jurisdictions(level: TOWN) { ...StreetFields }
    district: jurisdiction(code: "hailing") { code name nameEn location { lat lng } }
  }
  fragment StreetFields on Jurisdiction { code name nameEn level location { lat lng } children { code name nameEn level } }
`);

export type Viewer = ShellQuery['viewer'];
export type Street = ShellQuery['jurisdictions'][number];

export interface Ctx {
  viewer: Viewer;
  departments: ShellQuery['departments'];
  streets: Street[];
  district: ShellQuery['district'];
  // status announces a message in the live region.
  status(msg: string, kind?: 'ok' | 'error'): void;
  // onCleanup registers what to stop when the page is left.
  onCleanup(f: () => void): void;
  rerender(): void;
}

export function deptName(ctx: Ctx, code: string): string {
  const d = ctx.departments.find((x) => x.code === code);
  if (!d) return code;
  return lang() === 'zh' ? d.name : d.nameEn;
}

export function jurName(ctx: Ctx, code: string): string {
  if (ctx.district && code === ctx.district.code) return lang() === 'zh' ? ctx.district.name : ctx.district.nameEn;
  for (const s of ctx.streets) {
    if (s.code === code) return lang() === 'zh' ? s.name : s.nameEn;
    for (const c of s.children) if (c.code === code) return lang() === 'zh' ? `${s.name} ${c.name}` : `${c.nameEn}, ${s.nameEn}`;
  }
  return code;
}

export function isRole(ctx: Ctx, ...roles: string[]): boolean {
  return ctx.viewer.roles.some((r) => roles.includes(r));
}
