/**
 * Upsert whole documents by `_id`, insert-first: insertMany (unordered) in chunks, then replace only the
 * documents whose insert hit a duplicate key. FerretDB 1.24 hangs on update commands with many matching
 * statements, so new documents (the common case in a storm or a first catalog) never go through one; the
 * caller's `replace` runs the few replacements its own way (chunked, one command at a time).
 * Within one call the last document with a given `_id` wins, as it would with one replace-upsert after another.
 */
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb';

export const DUPLICATE_KEY = 11000;

export type KeyedDoc = { _id: string } & Document;

export async function upsertInsertFirst(
  collection: Collection<KeyedDoc>,
  docs: KeyedDoc[],
  chunkSize: number,
  replace: (collection: Collection<KeyedDoc>, ops: AnyBulkWriteOperation<KeyedDoc>[]) => Promise<void>,
): Promise<void> {
  const lastById = new Map<string, KeyedDoc>();
  for (const doc of docs) {
    lastById.delete(doc._id); // keep the insertion order of the last occurrence
    lastById.set(doc._id, doc);
  }
  const unique = [...lastById.values()];
  for (let i = 0; i < unique.length; i += chunkSize) {
    const chunk = unique.slice(i, i + chunkSize);
    const existing: KeyedDoc[] = [];
    try {
      await collection.insertMany(chunk, { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]).filter((e) => e !== undefined);
      // Only "these already exist" is an expected outcome. A bulk error without write errors (the connection
      // died mid-batch: the store was killed) means an unknown part was written: fail the call, so the write
      // queue retries it (measured: treating it as success lost every device registered during an outage).
      if (writeErrors.length === 0 || error.writeConcernError) throw error;
      for (const writeError of writeErrors) {
        if (writeError.code !== DUPLICATE_KEY) throw error;
        existing.push(chunk[writeError.index]);
      }
      if (error.insertedCount + existing.length !== chunk.length) throw error;
    }
    await replace(
      collection,
      existing.map((doc) => ({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } })),
    );
  }
}
