/**
 * A small RFC 4180 CSV reader for `POST /api/devices/import`.
 *
 * Written here rather than installed: no CSV parser is among our dependencies, the import needs only the RFC's
 * core (quoted fields with "" escapes and line breaks inside quotes, CRLF or LF rows, a header row) plus
 * line numbers for error messages, and a malformed file must be refused as a whole with the line where it
 * broke — which is about 80 lines of code, less than the options of a general-purpose parser.
 *
 * Accepted beyond the RFC, because spreadsheets write them: a UTF-8 byte-order mark, LF-only line ends, a
 * missing final line break, and blank lines (skipped). Refused (CsvError, with the line): an unterminated
 * quote, a quote inside an unquoted field, text after a closing quote, a row whose column count differs
 * from the header's.
 */

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`CSV line ${line}: ${message}`);
  }
}

export interface CsvRow {
  /** The physical line the row starts on (1 = the header). */
  line: number;
  cells: string[];
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/** Parse a whole CSV text; the first non-blank row is the header. */
export function parseCsv(text: string): CsvTable {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  const n = input.length;
  while (i < n) {
    const startLine = line;
    const cells: string[] = [];
    let quoted = false;
    // One record: fields separated by commas up to an unquoted line break or the end.
    for (;;) {
      let cell = '';
      if (input[i] === '"') {
        quoted = true;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError('unterminated quoted field (a " opened here is never closed)', startLine);
          const c = input[i]!;
          if (c === '"') {
            if (input[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          cell += c;
          i++;
        }
        if (i < n && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          throw new CsvError('text after a closing quote (quote the whole field, and double the quotes inside it)', line);
        }
      } else {
        const start = i;
        while (i < n && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          if (input[i] === '"') throw new CsvError('a quote inside an unquoted field (quote the whole field, and double the quotes inside it)', line);
          i++;
        }
        cell = input.slice(start, i);
      }
      cells.push(cell);
      if (i < n && input[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // End of record: CRLF, LF, a lone CR, or the end of the text.
    if (input[i] === '\r') i++;
    if (input[i] === '\n') i++;
    line++;
    // A blank line (one empty unquoted cell) is no row.
    if (!(cells.length === 1 && cells[0] === '' && !quoted)) rows.push({ line: startLine, cells });
  }
  const header = rows.shift();
  if (!header) throw new CsvError('the file is empty (expected a header row and at least one device)', 1);
  for (const row of rows) {
    if (row.cells.length !== header.cells.length) {
      throw new CsvError(`${row.cells.length} columns where the header (line ${header.line}) has ${header.cells.length}`, row.line);
    }
  }
  return { header: header.cells, rows };
}
