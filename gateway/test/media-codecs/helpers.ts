/** Small deterministic PRNG (mulberry32) so a failure is reproducible from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits a buffer into consecutive chunks of random sizes in [min, max]. */
export function randomChunks(buf: Buffer, rand: () => number, min: number, max: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const size = min + Math.floor(rand() * (max - min + 1));
    chunks.push(buf.subarray(at, at + size));
    at += size;
  }
  return chunks;
}
