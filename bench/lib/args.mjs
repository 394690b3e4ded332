// Command-line options: --name value pairs with defaults and types taken from the defaults.
import { parseArgs } from 'node:util';

export function options(defaults, usage) {
  const spec = { help: { type: 'boolean' } };
  for (const [k, v] of Object.entries(defaults)) spec[k] = { type: typeof v === 'boolean' ? 'boolean' : 'string' };
  let parsed;
  try {
    parsed = parseArgs({ options: spec, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`${err.message}\n${usage}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const out = {};
  for (const [k, def] of Object.entries(defaults)) {
    const v = parsed[k];
    if (v === undefined) out[k] = def;
    else if (typeof def === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) {
        process.stderr.write(`--${k} must be a number (got ${v})\n${usage}\n`);
        process.exit(2);
      }
      out[k] = n;
    } else out[k] = v;
  }
  return out;
}

export function oneOf(name, value, allowed) {
  if (!allowed.includes(value)) {
    process.stderr.write(`--${name} must be one of ${allowed.join(', ')} (got ${value})\n`);
    process.exit(2);
  }
  return value;
}
