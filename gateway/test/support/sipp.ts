/**
 * sipp (Debian package sip-tester, on PATH) as a third-party SIP peer for e2e tests: spawns it with the
 * given arguments and reads the successful/failed call counts from its final statistics.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const SIPP_SCENARIOS = resolve(__dirname, '../../../test-fixtures/sipp');

export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  output: string;
}

/** Runs sipp to completion (give -m and -timeout so it ends). */
export function runSippProcess(args: string[]): Promise<SippResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      // Final statistics: "Successful call | ... | N" and "Failed call | ... | N" (cumulative column last).
      const count = (label: string): number => {
        const lines = output.split('\n').filter((l) => l.includes(label));
        const last = lines[lines.length - 1] ?? '';
        const nums = last.match(/\d+/g);
        return nums ? Number(nums[nums.length - 1]) : -1;
      };
      resolvePromise({ code, successful: count('Successful call'), failed: count('Failed call'), output });
    });
  });
}
