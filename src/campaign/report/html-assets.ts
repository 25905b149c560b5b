import { createHash } from 'node:crypto';

/**
 * The style sheet and the one script of report.html, inline (the page must work offline and as an e-mail
 * attachment), and the Content-Security-Policy that allows exactly these two and nothing else: no request leaves the
 * page, and should a name from a server ever get through the escaping as markup, the browser would not run it.
 */

export const reportCss = `
:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --wait: #57606a; --run: #0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0 auto; padding: 24px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0; }
header > p.muted { margin: 2px 0 0; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.verdict { font-size: 18px; font-weight: 600; padding: 10px 14px; border-radius: 6px; border-left: 6px solid; margin: 8px 0 16px; }
.verdict.ok { border-color: var(--ok); background: #dafbe1; }
.verdict.warn { border-color: var(--warn); background: #fff8c5; }
.verdict.bad { border-color: var(--bad); background: #ffebe9; }
dl.totals { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 0; }
dl.totals div { min-width: 120px; }
dl.totals dt { color: #57606a; font-size: 12px; }
dl.totals dd { margin: 0; font-size: 16px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
/* Fixed layout: the widths come from the columns, not from 25,000 rows' contents, so a sort re-lays the table out in
   a fraction of the time auto layout takes. */
#accounts { table-layout: fixed; }
#accounts col.w-name { width: 11%; }
#accounts col.w-spec { width: 13%; }
#accounts col.w-status { width: 9%; }
#accounts col.w-verdict { width: 12%; }
#accounts col.w-count, #accounts col.w-size { width: 7%; }
#accounts th { font-size: 13px; overflow-wrap: break-word; }
#accounts th, #accounts td { padding: 4px 6px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
#accounts td:nth-child(n+6), #accounts th:nth-child(n+6), .folders td + td, .folders th + th,
.stages td:nth-child(n+3):not(:last-child), .stages th:nth-child(n+3):not(:last-child) { text-align: right; font-variant-numeric: tabular-nums; }
#accounts td:nth-child(n+6) { white-space: nowrap; }
#accounts td { overflow-wrap: break-word; }
#accounts td:nth-child(2), #accounts td:nth-child(3) { font-size: 12px; color: #424a53; }
thead th { background: #f6f8fa; }
#accounts thead th { position: sticky; top: 0; }
th button { all: inherit; cursor: pointer; padding: 0; }
th button:focus-visible { outline: 2px solid var(--run); }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 600; color: #fff; }
.s-done, .v-complete { background: var(--ok); }
.s-done-with-skips, .v-complete-with-exceptions { background: var(--warn); }
.s-failed, .v-incomplete { background: var(--bad); }
.s-timed-out { background: #bc4c00; }
.s-planned, .v-unverified { background: var(--wait); }
.s-running { background: var(--run); }
/* content-visibility: the browser renders only the details near the screen (25,000 of them are a long page). */
details.account { border: 1px solid #d0d7de; border-radius: 6px; margin: 6px 0; padding: 6px 10px; content-visibility: auto; contain-intrinsic-size: auto 36px; }
details.account > summary { cursor: pointer; }
details.account > summary .id { font-weight: 600; margin-right: 6px; }
details.account:target { outline: 2px solid var(--run); }
tr.diff td { background: #ffebe9; }
tr.diff td.bad { font-weight: 600; color: var(--bad); }
.muted { color: #57606a; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid #d0d7de; color: #57606a; font-size: 12px; }
@media print { #accounts thead th { position: static; } details.account { break-inside: avoid; } }
`;

// Sorts the account table by the clicked header (again: the other way), numbers by value (a cell's data-value when it
// shows something else: the bytes of "2.0 KB", a rank for status and verdict; an empty one sorts as the lowest), text
// by locale; rows that compare equal keep their order. Opens the details an anchor (#account-N) points to.
export const reportScript = `
(function () {
  var table = document.getElementById('accounts');
  if (table) {
    var heads = table.tHead.rows[0].cells;
    var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
    Array.prototype.forEach.call(heads, function (th, column) {
      var button = th.querySelector('button');
      if (!button) return;
      button.addEventListener('click', function () {
        var ascending = th.getAttribute('aria-sort') !== 'ascending';
        var numeric = th.getAttribute('data-type') === 'number';
        var body = table.tBodies[0];
        var keyed = Array.prototype.map.call(body.rows, function (row, index) {
          var cell = row.cells[column];
          var raw = cell.hasAttribute('data-value') ? cell.getAttribute('data-value') : cell.textContent;
          var number = raw === '' ? NaN : Number(raw);
          var key = numeric ? (isNaN(number) ? -Infinity : number) : raw;
          return { row: row, index: index, key: key };
        });
        keyed.sort(function (a, b) {
          var order = numeric ? (a.key === b.key ? 0 : a.key < b.key ? -1 : 1) : collator.compare(a.key, b.key);
          return (ascending ? order : -order) || a.index - b.index;
        });
        var fragment = document.createDocumentFragment();
        keyed.forEach(function (each) { fragment.appendChild(each.row); });
        body.appendChild(fragment);
        Array.prototype.forEach.call(heads, function (other) { if (other.hasAttribute('aria-sort')) other.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      });
    });
  }
  function openTarget() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.tagName === 'DETAILS') target.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
})();
`;

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export const reportContentSecurityPolicy = `default-src 'none'; style-src ${sha256Source(reportCss)}; script-src ${sha256Source(reportScript)}; img-src 'none'; form-action 'none'; base-uri 'none'`;
