# Dumps every sheet of an XLSX workbook as JSON with openpyxl, an
# independent reader: {"sheet": [[cell, ...], ...]}; dates as ISO strings.
import datetime, json, sys
import openpyxl

wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
out = {}
for ws in wb.worksheets:
    ws.reset_dimensions()  # a stream-written sheet may state only A1
    rows = []
    for row in ws.iter_rows(values_only=True):
        rows.append([v.isoformat() if isinstance(v, datetime.datetime) else v for v in row])
    out[ws.title] = rows
json.dump(out, sys.stdout, ensure_ascii=False)
