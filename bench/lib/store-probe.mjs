// Reads the gateway's store directly (not through the gateway): the SQLite file opened read-only with
// better-sqlite3, or the MongoDB database with the official driver. Used to check "the store has N online rows".
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';

export async function openStoreProbe(gateway, { store, mongoUrl }) {
  if (store === 'sqlite') {
    let db = null;
    const conn = () => {
      // The file exists once the gateway is healthy; WAL mode lets us read while it writes.
      db ??= new Database(gateway.sqliteFile, { readonly: true, fileMustExist: true });
      return db;
    };
    return {
      how: `SQLite file read-only (better-sqlite3): ${gateway.sqliteFile}`,
      async countOnlineDevices() {
        return conn().prepare("SELECT COUNT(*) AS n FROM devices WHERE status = 'online'").get().n;
      },
      async countChannels(deviceId) {
        return conn().prepare('SELECT COUNT(*) AS n FROM channels WHERE device_id = ?').get(deviceId).n;
      },
      async close() {
        db?.close();
      },
    };
  }
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  const db = client.db(gateway.database);
  return {
    how: `MongoDB driver on FerretDB, database ${gateway.database}`,
    async countOnlineDevices() {
      return db.collection('devices').countDocuments({ status: 'online' });
    },
    async countChannels(deviceId) {
      return db.collection('channels').countDocuments({ deviceId });
    },
    async close() {
      await client.close();
    },
  };
}
