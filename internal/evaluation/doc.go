// Package evaluation is the third-party evaluation of Hailing District's
// urban management (docs/design.md, Evaluation): indicators per period ×
// street, community, department and case class, a composite score whose
// weights live in policies/weights.yaml, and frozen, anonymised, checksummed
// assessment datasets (snapshots) with their dimension tables and data
// dictionary, streamed as NDJSON, CSV, XLSX or Parquet.
//
// The district's evaluation counted cases and ignored citizen satisfaction
// and participation, with no third-party assessment (docs/design.md, The
// problem the hub answers); hence the satisfaction, rating coverage and
// participation figures, their 35 % share of the composite, and snapshots an
// outside team can recompute every figure from.
//
// # Indicator definitions
//
// This text is meant for the README.
//
// Periods are calendar months, quarters and years in Asia/Shanghai time; "in
// P" means an instant in [start of P, end of P). The current period is
// judged as of now; periods after it are not reported. Every figure is
// computed from each case's row as it stands: after a rework the row holds
// the last handling and the deadline the rework set, and also the first
// handling and the deadline it was judged against (first_handled_at,
// first_deadline); timelines are not replayed.
//
// Deadlines. The handling deadline (deadline) is the class's limit from
// dispatch (from the rework for a reworked case, extended by deferrals).
// The verification limit of a class is what a supervisor has to check on
// site: 2 working hours, 1 clock hour for emergency classes
// (cases.Class.VerifyLimit). The closure deadline = the handling deadline
// + the verification limit (cases.Class.ClosureDeadline): the handling is
// due by the deadline, its check and the closure after it.
//
//   - Registered: registered_at in P. Dispatched: dispatched_at in P.
//   - Handled in P: handled_at (the last handling feedback) in P, for
//     dispatched cases. Handled on time: handled_at ≤ deadline, and the
//     first handling was by the deadline it was judged against
//     (first_handled_at ≤ first_deadline). Rework does not reset
//     punctuality: a case handled late the first time stays late however
//     punctually it is handled after failing verification. Where the first
//     handling is unknown (reworked cases from before it was recorded) the
//     last handling decides.
//   - Due to handle in P = handled in P + dispatched cases whose deadline
//     fell in P before now and that were not handled by the end of P.
//   - Closed in P: closed_at in P. Closed on time: closed_at ≤ the closure
//     deadline, and the first handling was not late (as above).
//   - Due to close in P = closed in P + dispatched cases whose closure
//     deadline fell in P before now and that were not closed by the end of
//     P.
//
// The two parts of each "due" are disjoint, so a case is due at most once
// in a period and handled ≤ due, closed ≤ due. A case closed early (before
// its deadline's period) is due only in the period it closed in. A case
// closed late is due, unclosed, in the period its deadline fell in, and
// due again, closed, in the period it closed in: a late case weighs on the
// period it fell due in, as in the national practice (应结案数 = 本期结案数 +
// 本期到期未结案数). A case whose deadline has not come yet is not due.
// The deadline is always the final one: a deferred case (缓办) counts
// against its extended deadline, and is on time if handled or closed by it.
// Cases in backlog (挂账, status BACKLOG) are not due: the command centre
// has recorded that they cannot be solved now. Neither can rewrite the
// past: deferral and backlog are requests the command centre approves
// (internal/cases, requests.go), refused once the deadline has passed, and
// a deferral extends the deadline the case had, so a case late in a month
// stays late in it.
//
// Published periods are frozen: Service.Publish stores a closed period's
// rows (every standard grouping, exact and as public callers see them) as
// a version that never changes; a correction is a new version with a
// reason. The live figures above keep following the cases.
//
//   - Handling rate = handled in P / due to handle in P.
//   - On-time handling rate = handled on time in P / due to handle in P.
//   - Closure rate = closed in P / due to close in P.
//   - On-time closure rate = closed on time in P / due to close in P.
//   - Rework rate = cases due to close in P that were reworked at least once
//     (rework_count > 0) / due to close in P. A reworked case counts once in
//     the numerator and once in the denominator, however often it failed
//     verification.
//   - Overdue-pending rate, at T = the end of P (now for the current period)
//     = cases open at T past their deadline and not handled by it / cases
//     open at T, where open means dispatched before T, not closed by T and
//     not in backlog.
//   - Average handling time = Σ working time from dispatch to (last)
//     handling / cases handled in P, in working hours (the calendar's
//     working days, 08:30–12:00 and 13:30–17:30, PRC holidays and make-up
//     days). p90 handling time = the nearest-rank 90th percentile, reported
//     as the upper bound of its histogram bucket (HistEdgesHours: 0.5, 1, 2,
//     3, 4, 5, 7.5, 10, 15, 22.5, 30, 37.5, 52.5, 75, 112.5, 150, 225, 375 h;
//     beyond 375 h reports 375).
//   - Citizen satisfaction = mean stars (1–5) of cases closed in P that were
//     rated. Rating coverage = rated / closed in P.
//   - Participation = cases registered in P raised by citizens (sources
//     CITIZEN_REPORT, the citizen app, and HOTLINE_12345) / cases registered
//     in P.
//
// Reporting (上报), per reporter group when grouped by REPORTER_GROUP (or
// filtered by sources). Cases record the channel a report came by, not the
// person: SUPERVISOR = INSPECTOR_PATROL (信息采集监督员 and grid staff),
// CITIZEN = CITIZEN_REPORT and HOTLINE_12345, AUTOMATED = DRONE_PATROL and
// VIDEO_ANALYTICS, DEPARTMENT = ENFORCEMENT_TERMINAL and
// ASSIGNED_BY_SUPERIOR, MEDIA. A report is received at reported_at and
// decided when registered (registered_at) or declined (不予立案, status
// NOT_REGISTERED; decided at the row's last update, the status being
// terminal). Reports still awaiting a decision count in reports only.
//
//   - Reports (上报数) = reports received in P, whatever became of them.
//   - Valid-report rate (有效上报率) = reports received in P and registered /
//     reports received in P and decided.
//   - Declined-report rate = reports received in P and declined / reports
//     received in P and decided (立案准确率 as "declined reports / reports":
//     the share of reports that should not have been made; lower is
//     better, and 1 − it is the valid-report rate).
//   - On-time verification rate (按时核实率) = reports received in P and
//     decided by reported_at + the class's verification limit / reports
//     received in P and decided.
//   - On-time check rate (按时核查率) = cases closed in P whose closing check
//     came by the last handled_at + the verification limit / cases closed
//     in P.
//
// Dispatch, deferral and backlog, per case dispatched in P (dispatched_at,
// the last dispatch), as the row stands:
//
//   - Return rate = cases dispatched in P that the department returned at
//     least once (退回, return_count > 0) / cases dispatched in P; dispatch
//     accuracy (派遣准确率) = 1 − return rate = cases dispatched in P never
//     returned / cases dispatched in P.
//   - Deferral rate (延期率) = cases dispatched in P deferred at least once
//     (defer_count > 0) / cases dispatched in P.
//   - Backlog rate (挂账率) = cases dispatched in P that are in backlog
//     (status BACKLOG) / cases dispatched in P.
//
// Rework per failed verification, beside the rework rate per case:
//
//   - Failed verifications = Σ rework_count over cases closed in P (each
//     failed check counted).
//   - Rework per verification = failed verifications / verifications of the
//     cases closed in P = Σ rework_count / (closed in P + Σ rework_count):
//     every closed case passed one check and failed rework_count.
//
// Density, from the directory (jurisdictions: GRID rows and area_km2):
//
//   - Problems per grid = cases registered in P / unit grids (GRID
//     jurisdictions) in the row's jurisdiction; per km² = cases registered
//     in P / the row's area in km² (the Figure's denominator holds the area
//     in m², rounded). The row's jurisdiction is its community or street
//     when grouped by them, else the filter's jurisdiction (the district
//     without one); empty where the area is unknown or there is no grid.
//     Like the other datasets' figures, empty when grouped by department,
//     class or reporter group or filtered by a case property.
//   - Violations found = violations of every kind discovered in P; illegal
//     construction found = those of kind ILLEGAL_CONSTRUCTION. Violations
//     demolished = illegal buildings (ILLEGAL_CONSTRUCTION) with outcome
//     DEMOLISHED and resolved_at in P, and their area in m²
//     (demolished_area_m2, else the recorded area_m2): the demolition
//     figure counts buildings only. Violations removed = the other kinds
//     (street occupation, advertising, dumping, parking) with outcome
//     DEMOLISHED (removed, cleared) and resolved_at in P. The violations
//     list filters by outcome (violations(filter: {outcome: …})).
//   - Shared-parking opening rate = government lots open for off-peak sharing
//     (kind GOVERNMENT_SHARED with shared spaces) / government lots
//     (is_government), among lots registered by the end of P. The sharing
//     status is the current one (the registry keeps no history).
//   - Inspection pass rate = double-random inspections recorded in P with
//     result PASS / those with a result (RECTIFY and FAIL do not pass).
//
// A rate with a zero denominator is empty (null), not zero. The violations,
// parking and inspection figures follow street and community grouping and
// the jurisdiction filter; grouped by department or case class, or filtered
// by a case property, they are empty, and so are they while their tables do
// not exist.
//
// Composite score = Σ weight × normalised value over the figures
// policies/weights.yaml names for the row's kind (RowKind: department rows,
// grouped by department, weigh only the figures a handling department
// controls; area rows — district, street, community, case class — the
// rest too), where rates count as they are, rates where
// lower is better (rework, overdue-pending) as 1 − x, and satisfaction as
// (mean − 1) / 4; suppressed when any input is suppressed, else empty when
// any input is empty.
//
// Small cells: for public callers (anonymous, the citizen app, evaluators:
// whoever may not read case rows as a department) a figure is suppressed —
// value, numerator and denominator empty, Suppressed set — when a count it
// is judged on is 1 to k−1, k = suppressBelow (catalog.yaml,
// evaluation/indicators; 5). Zero is shown. The counts a figure is judged
// on:
//
//   - Its base: a count itself; a rate its denominator; a mean or
//     percentile the cases averaged (handled cases for the handling times,
//     rated cases for satisfaction). The reporting rates rest on the
//     decided reports, the on-time check rate, failed verifications and
//     rework per verification on the closed cases, the dispatch, deferral
//     and backlog rates on the dispatched cases, the densities on the
//     registered cases.
//   - For rating coverage and participation, their numerators too (rated
//     cases, cases raised by citizens), and for the valid- and
//     declined-report rates the declined reports: these count residents'
//     (and a handful of supervisors') acts, a few of which point at people; the rated count is what satisfaction is
//     judged on, so coverage is suppressed whenever satisfaction is, and a
//     sources filter makes registered the citizen-raised count. The
//     numerators of the other rates count departments' acts and are not
//     judged.
//   - The complement of each of those counts, when the filter narrows the
//     cases below period and jurisdiction (kind, major class, sources,
//     handling department: every filter but the jurisdiction): the same
//     count in the same cell (period and group, same jurisdiction) without
//     the narrowing filters, less the count in the cell. Otherwise two
//     shown figures would give the few cases the filter removed away by
//     subtraction (satisfaction 23/6 for a community and 18/5 for its EVENT
//     cases: its one COMPONENT rating was 5 stars). A zero complement (the
//     filter removed nothing) is fine. The cells without the narrowing
//     filters are read once per query, not per cell, in the same snapshot
//     as the filtered ones (and so is the current period's live part), and
//     only for public callers with a narrowing filter.
//
// Small cells across periods: a quarter is the sum of its months and a
// year of its quarters (for the flows exactly; the "due" counts nearly), so
// a public caller could ask for a quarter and two of its months and
// subtract. For public callers every month, quarter and year of the
// calendar years a query touches is judged, whatever the query asked for,
// per group and per count above (bar "open at the end of the period",
// which is not a sum: a quarter's is its last month's, judged alike). In
// each sum (a year and its quarters, a quarter and its months reported so
// far) a count hidden in exactly one cell would be the difference of the
// others, so one more cell is hidden until none is alone: the sibling with
// the smallest non-zero count (then a zero one, then the earliest), or the
// parent when no sibling is left. Months after the current one and cells
// with no row are known zeros and never serve. A figure is hidden wherever
// one of its counts is. The months are read once for those years and
// folded into quarters and years (the live part of the current month,
// quarter and year is read for each). Years are not summed into anything,
// so a cell's fate depends only on its own calendar year's data: the same
// whichever period, range or year span a query asks for.
//
// Parking and inspection figures are public registers and never suppressed.
// The violations figures are judged on their own counts (a narrowing filter
// leaves them empty), across periods too. Departments see every figure
// exact.
//
// The rules compare a cell with the same cell unfiltered and with the
// other periods of its year, and nothing else. They do not stop
// differences between other pairs of answers: two narrowing filters
// (sources {A, B} against {A}, or the major classes of a kind against the
// kind), a cell grouped by case class, department or reporter group
// against the same cell ungrouped, a street against its communities (nor
// the combination of those with periods); the sum of the cells hidden in
// one equation is known, so each lies in a known interval; and a figure
// of the current period, or one rewritten by a late change, can be
// compared with the same figure read at another time. Closing those needs
// suppression checked across every table a public caller can ask for (or
// perturbed figures), not per query.
//
// # Performance
//
// Figures are read from monthly rollups (migration 00070), not from cases:
// a year of monthly indicators for every street reads about 1,200 rows of
// the community tier instead of aggregating a million cases. See
// internal/postgres.EvaluationStore for how the rollups follow case changes.
//
// # Snapshots
//
// See Service.CreateSnapshot for what a snapshot keeps and drops, and
// Service.Export and Service.OpenDownload (served over HTTP by
// internal/server's ExportHandler) for how it is served. Snapshot readers
// are the principals whose evaluation decision shows the "snapshots" group
// (policy.csv: the evaluator role); to let district administrators read
// them too, add a line such as "p, admin, urban-management,
// evaluation/snapshots, read, allow" to policy.csv.
//
// Datasets (SnapshotDatasets): cases, violations, parking_lots (with their
// sharing windows), parking_availability (the history of free spaces) and
// inspections (of double-random rounds). Each declares its schema (the
// data dictionary) in datasets.go and its source query in
// internal/postgres; every one is rendered as NDJSON, CSV (with and without
// BOM), XLSX and Parquet and checksummed the same way.
//
// k-anonymity (kanon.go): for cases and violations the quasi-identifiers
// are the community (or rounded coordinates), the class and the hour of
// day of the record's time. The store counts the source rows by their
// finest combination in the snapshot's reading transaction (QICount);
// Anonymizer.Plan takes the first generalization of the ladder — hour →
// part of day, coordinates withheld, community → street, minor → major
// class, hour → day, major class → kind — under which every combination
// holds at least K rows (KAnonymityDefault, 5), and applies it to every
// row and to the dictionary. Combinations still smaller under the last
// rung are withheld when they hold at most SuppressMaxShare (1 %) of the
// rows; otherwise, and for snapshots of fewer than K rows, BAD_USER_INPUT.
// The manifest's KAnonymity says what was generalized and withheld. The
// other datasets describe public facilities and have no quasi-identifiers;
// the minimum of K rows applies to them too.
//
// Free text (Profile.KeepText) goes through Scrub (scrub.go), which folds
// full-width forms and Chinese numerals to digits first so one set of
// patterns catches numbers however typed, removes contacts, ID numbers,
// phone numbers, plates and house numbers, and withholds a text that still
// holds a suspicious number (Withheld): a lost description is preferred to
// a leaked person.
//
// # The evaluation team
//
// Evaluator credentials belong to a registered third-party Organisation,
// never to a department it evaluates (internal/auth refuses an evaluator
// credential naming a department, and the database an organisation whose
// code is a department's). Its contract has a period and a scope (datasets,
// jurisdiction subtrees): outside them CreateSnapshot, Snapshots, Snapshot
// and every download answer FORBIDDEN; an organisation sees only its own
// snapshots. The manifest names the organisation and its contract
// (Manifest.Organisation), and every audit record of a creation or a
// download states it in its purpose (AuditPurpose); the hub's audit writer
// records the organisation as the reader's department ("org:<code>").
// Principals the policy lets read snapshots without the evaluator role
// (district administrators) act for the district: no contract applies.
package evaluation
