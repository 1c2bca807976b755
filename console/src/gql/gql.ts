/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Shell {\n    viewer { subject kind roles jurisdiction citizenId department { code name nameEn kind } }\n    departments { code name nameEn kind }\n    jurisdictions(level: STREET) { ...StreetFields }\n    towns: jurisdictions(level: TOWN) { ...StreetFields }\n    district: jurisdiction(code: \"hailing\") { code name nameEn location { lat lng } }\n  }\n  fragment StreetFields on Jurisdiction { code name nameEn level location { lat lng } children { code name nameEn level } }\n": typeof types.ShellDocument,
    "\n  query Audit($filter: AuditFilter, $first: Int, $after: String) {\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      records { seq at subject dept roles purpose grantId dataset fieldGroups rowCount operation requestId hash }\n      next\n    }\n  }\n": typeof types.AuditDocument,
    "\n  query AuditChain { auditChain { ok checked headSeq headHash legacy problemCount problems { seq kind detail } checkedAt } }\n": typeof types.AuditChainDocument,
    "\n  query Catalog {\n    accessCatalog {\n      name about provider actions noAccess\n      groups { name class provider about masks { field rule } }\n      mine { allRows jurisdictions departments ownReports actions grantIds groups { group access visibleIn } }\n      baseline { role departments departmentsLabel rows groups actions }\n    }\n  }\n": typeof types.CatalogDocument,
    "\n  query Grants {\n    outgoing: activeGrants(direction: OUTGOING) { ...GrantFields }\n    incoming: activeGrants(direction: INCOMING) { ...GrantFields }\n  }\n  fragment GrantFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n": typeof types.GrantsDocument,
    "\n  query DataCases($filter: CaseFilter, $first: Int) {\n    cases(filter: $filter, first: $first, orderBy: REPORTED_AT_DESC) {\n      totalCount\n      edges { node { id caseNo className status source reportedAt jurisdiction { code } reporter { name phone } } }\n    }\n  }\n": typeof types.DataCasesDocument,
    "query MyGrants { activeGrants(direction: OUTGOING) { id until } }": typeof types.MyGrantsDocument,
    "subscription CaseUpdated($filter: CaseFilter) { caseUpdated(filter: $filter) { id status } }": typeof types.CaseUpdatedDocument,
    "\n  query Indicators($from: DateTime!, $to: DateTime!, $filter: IndicatorFilter) {\n    indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $filter) {\n      periodStart street\n      figures { name value numerator denominator formula suppressed }\n    }\n  }\n": typeof types.IndicatorsDocument,
    "\n  query MapData($jur: String!) {\n    cases(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id caseNo status className location { lat lng } } } }\n    violations(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id recordNo status kind location { lat lng } } } }\n    parkingLots(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id name totalSpaces isGovernment location { lat lng } } } }\n  }\n": typeof types.MapDataDocument,
    "\n  query Requests {\n    outgoing: accessRequests(direction: OUTGOING) { ...RequestFields }\n    incoming: accessRequests(direction: INCOMING) { ...RequestFields }\n  }\n  fragment RequestFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt reason requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n": typeof types.RequestsDocument,
    "\n  mutation RequestAccess($input: AccessRequestInput!) { requestAccess(input: $input) { id status } }\n": typeof types.RequestAccessDocument,
    "mutation Approve($id: ID!) { approveAccessRequest(id: $id) { id status } }": typeof types.ApproveDocument,
    "mutation Reject($id: ID!, $reason: String!) { rejectAccessRequest(id: $id, reason: $reason) { id status } }": typeof types.RejectDocument,
    "mutation Revoke($id: ID!, $reason: String) { revokeGrant(id: $id, reason: $reason) { id status } }": typeof types.RevokeDocument,
};
const documents: Documents = {
    "\n  query Shell {\n    viewer { subject kind roles jurisdiction citizenId department { code name nameEn kind } }\n    departments { code name nameEn kind }\n    jurisdictions(level: STREET) { ...StreetFields }\n    towns: jurisdictions(level: TOWN) { ...StreetFields }\n    district: jurisdiction(code: \"hailing\") { code name nameEn location { lat lng } }\n  }\n  fragment StreetFields on Jurisdiction { code name nameEn level location { lat lng } children { code name nameEn level } }\n": types.ShellDocument,
    "\n  query Audit($filter: AuditFilter, $first: Int, $after: String) {\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      records { seq at subject dept roles purpose grantId dataset fieldGroups rowCount operation requestId hash }\n      next\n    }\n  }\n": types.AuditDocument,
    "\n  query AuditChain { auditChain { ok checked headSeq headHash legacy problemCount problems { seq kind detail } checkedAt } }\n": types.AuditChainDocument,
    "\n  query Catalog {\n    accessCatalog {\n      name about provider actions noAccess\n      groups { name class provider about masks { field rule } }\n      mine { allRows jurisdictions departments ownReports actions grantIds groups { group access visibleIn } }\n      baseline { role departments departmentsLabel rows groups actions }\n    }\n  }\n": types.CatalogDocument,
    "\n  query Grants {\n    outgoing: activeGrants(direction: OUTGOING) { ...GrantFields }\n    incoming: activeGrants(direction: INCOMING) { ...GrantFields }\n  }\n  fragment GrantFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n": types.GrantsDocument,
    "\n  query DataCases($filter: CaseFilter, $first: Int) {\n    cases(filter: $filter, first: $first, orderBy: REPORTED_AT_DESC) {\n      totalCount\n      edges { node { id caseNo className status source reportedAt jurisdiction { code } reporter { name phone } } }\n    }\n  }\n": types.DataCasesDocument,
    "query MyGrants { activeGrants(direction: OUTGOING) { id until } }": types.MyGrantsDocument,
    "subscription CaseUpdated($filter: CaseFilter) { caseUpdated(filter: $filter) { id status } }": types.CaseUpdatedDocument,
    "\n  query Indicators($from: DateTime!, $to: DateTime!, $filter: IndicatorFilter) {\n    indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $filter) {\n      periodStart street\n      figures { name value numerator denominator formula suppressed }\n    }\n  }\n": types.IndicatorsDocument,
    "\n  query MapData($jur: String!) {\n    cases(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id caseNo status className location { lat lng } } } }\n    violations(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id recordNo status kind location { lat lng } } } }\n    parkingLots(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id name totalSpaces isGovernment location { lat lng } } } }\n  }\n": types.MapDataDocument,
    "\n  query Requests {\n    outgoing: accessRequests(direction: OUTGOING) { ...RequestFields }\n    incoming: accessRequests(direction: INCOMING) { ...RequestFields }\n  }\n  fragment RequestFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt reason requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n": types.RequestsDocument,
    "\n  mutation RequestAccess($input: AccessRequestInput!) { requestAccess(input: $input) { id status } }\n": types.RequestAccessDocument,
    "mutation Approve($id: ID!) { approveAccessRequest(id: $id) { id status } }": types.ApproveDocument,
    "mutation Reject($id: ID!, $reason: String!) { rejectAccessRequest(id: $id, reason: $reason) { id status } }": types.RejectDocument,
    "mutation Revoke($id: ID!, $reason: String) { revokeGrant(id: $id, reason: $reason) { id status } }": types.RevokeDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Shell {\n    viewer { subject kind roles jurisdiction citizenId department { code name nameEn kind } }\n    departments { code name nameEn kind }\n    jurisdictions(level: STREET) { ...StreetFields }\n    towns: jurisdictions(level: TOWN) { ...StreetFields }\n    district: jurisdiction(code: \"hailing\") { code name nameEn location { lat lng } }\n  }\n  fragment StreetFields on Jurisdiction { code name nameEn level location { lat lng } children { code name nameEn level } }\n"): (typeof documents)["\n  query Shell {\n    viewer { subject kind roles jurisdiction citizenId department { code name nameEn kind } }\n    departments { code name nameEn kind }\n    jurisdictions(level: STREET) { ...StreetFields }\n    towns: jurisdictions(level: TOWN) { ...StreetFields }\n    district: jurisdiction(code: \"hailing\") { code name nameEn location { lat lng } }\n  }\n  fragment StreetFields on Jurisdiction { code name nameEn level location { lat lng } children { code name nameEn level } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Audit($filter: AuditFilter, $first: Int, $after: String) {\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      records { seq at subject dept roles purpose grantId dataset fieldGroups rowCount operation requestId hash }\n      next\n    }\n  }\n"): (typeof documents)["\n  query Audit($filter: AuditFilter, $first: Int, $after: String) {\n    auditTrail(filter: $filter, first: $first, after: $after) {\n      records { seq at subject dept roles purpose grantId dataset fieldGroups rowCount operation requestId hash }\n      next\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuditChain { auditChain { ok checked headSeq headHash legacy problemCount problems { seq kind detail } checkedAt } }\n"): (typeof documents)["\n  query AuditChain { auditChain { ok checked headSeq headHash legacy problemCount problems { seq kind detail } checkedAt } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Catalog {\n    accessCatalog {\n      name about provider actions noAccess\n      groups { name class provider about masks { field rule } }\n      mine { allRows jurisdictions departments ownReports actions grantIds groups { group access visibleIn } }\n      baseline { role departments departmentsLabel rows groups actions }\n    }\n  }\n"): (typeof documents)["\n  query Catalog {\n    accessCatalog {\n      name about provider actions noAccess\n      groups { name class provider about masks { field rule } }\n      mine { allRows jurisdictions departments ownReports actions grantIds groups { group access visibleIn } }\n      baseline { role departments departmentsLabel rows groups actions }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Grants {\n    outgoing: activeGrants(direction: OUTGOING) { ...GrantFields }\n    incoming: activeGrants(direction: INCOMING) { ...GrantFields }\n  }\n  fragment GrantFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n"): (typeof documents)["\n  query Grants {\n    outgoing: activeGrants(direction: OUTGOING) { ...GrantFields }\n    incoming: activeGrants(direction: INCOMING) { ...GrantFields }\n  }\n  fragment GrantFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DataCases($filter: CaseFilter, $first: Int) {\n    cases(filter: $filter, first: $first, orderBy: REPORTED_AT_DESC) {\n      totalCount\n      edges { node { id caseNo className status source reportedAt jurisdiction { code } reporter { name phone } } }\n    }\n  }\n"): (typeof documents)["\n  query DataCases($filter: CaseFilter, $first: Int) {\n    cases(filter: $filter, first: $first, orderBy: REPORTED_AT_DESC) {\n      totalCount\n      edges { node { id caseNo className status source reportedAt jurisdiction { code } reporter { name phone } } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query MyGrants { activeGrants(direction: OUTGOING) { id until } }"): (typeof documents)["query MyGrants { activeGrants(direction: OUTGOING) { id until } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription CaseUpdated($filter: CaseFilter) { caseUpdated(filter: $filter) { id status } }"): (typeof documents)["subscription CaseUpdated($filter: CaseFilter) { caseUpdated(filter: $filter) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Indicators($from: DateTime!, $to: DateTime!, $filter: IndicatorFilter) {\n    indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $filter) {\n      periodStart street\n      figures { name value numerator denominator formula suppressed }\n    }\n  }\n"): (typeof documents)["\n  query Indicators($from: DateTime!, $to: DateTime!, $filter: IndicatorFilter) {\n    indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $filter) {\n      periodStart street\n      figures { name value numerator denominator formula suppressed }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MapData($jur: String!) {\n    cases(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id caseNo status className location { lat lng } } } }\n    violations(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id recordNo status kind location { lat lng } } } }\n    parkingLots(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id name totalSpaces isGovernment location { lat lng } } } }\n  }\n"): (typeof documents)["\n  query MapData($jur: String!) {\n    cases(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id caseNo status className location { lat lng } } } }\n    violations(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id recordNo status kind location { lat lng } } } }\n    parkingLots(filter: { jurisdiction: $jur }, first: 200) { totalCount edges { node { id name totalSpaces isGovernment location { lat lng } } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Requests {\n    outgoing: accessRequests(direction: OUTGOING) { ...RequestFields }\n    incoming: accessRequests(direction: INCOMING) { ...RequestFields }\n  }\n  fragment RequestFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt reason requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n"): (typeof documents)["\n  query Requests {\n    outgoing: accessRequests(direction: OUTGOING) { ...RequestFields }\n    incoming: accessRequests(direction: INCOMING) { ...RequestFields }\n  }\n  fragment RequestFields on AccessRequest {\n    id dataset fieldGroups jurisdiction purpose until status createdAt decidedBy decidedAt reason requestedBy\n    requesterDept { code name nameEn } providerDept { code name nameEn }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RequestAccess($input: AccessRequestInput!) { requestAccess(input: $input) { id status } }\n"): (typeof documents)["\n  mutation RequestAccess($input: AccessRequestInput!) { requestAccess(input: $input) { id status } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Approve($id: ID!) { approveAccessRequest(id: $id) { id status } }"): (typeof documents)["mutation Approve($id: ID!) { approveAccessRequest(id: $id) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Reject($id: ID!, $reason: String!) { rejectAccessRequest(id: $id, reason: $reason) { id status } }"): (typeof documents)["mutation Reject($id: ID!, $reason: String!) { rejectAccessRequest(id: $id, reason: $reason) { id status } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Revoke($id: ID!, $reason: String) { revokeGrant(id: $id, reason: $reason) { id status } }"): (typeof documents)["mutation Revoke($id: ID!, $reason: String) { revokeGrant(id: $id, reason: $reason) { id status } }"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;