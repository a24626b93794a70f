//! The `alarm` table: the active alarms, as etcd's `alarm` bucket keeps them,
//! so an alarm survives a restart.
//!
//! Key: member id (8 bytes big-endian) + alarm type (4 bytes big-endian);
//! the value is empty. What an alarm type means belongs to the server.

use redb::ReadableTable;

use crate::backend::{ReadTxn, WriteTxn};
use crate::error::{Error, Result, storage};
use crate::schema::ALARM;

fn alarm_key(member: u64, alarm: i32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&member.to_be_bytes());
    k[8..].copy_from_slice(&alarm.to_be_bytes());
    k
}

impl WriteTxn {
    /// Records an active alarm (idempotent).
    pub fn put_alarm(&mut self, member: u64, alarm: i32) -> Result<()> {
        let mut table = self.txn.open_table(ALARM).map_err(storage("open alarm table"))?;
        table.insert(alarm_key(member, alarm).as_slice(), [].as_slice()).map_err(storage("put alarm"))?;
        Ok(())
    }

    /// Forgets an alarm; absent alarms are not an error.
    pub fn delete_alarm(&mut self, member: u64, alarm: i32) -> Result<()> {
        let mut table = self.txn.open_table(ALARM).map_err(storage("open alarm table"))?;
        table.remove(alarm_key(member, alarm).as_slice()).map_err(storage("delete alarm"))?;
        Ok(())
    }
}

impl ReadTxn {
    /// Every recorded alarm as `(member id, alarm type)`, in key order.
    pub fn alarms(&self) -> Result<Vec<(u64, i32)>> {
        let table = match self.txn.open_table(ALARM) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage("open alarm table")(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(storage("scan alarm table"))? {
            let (k, _) = item.map_err(storage("scan alarm table"))?;
            let k = <[u8; 12]>::try_from(k.value()).map_err(|_| Error::Corrupt {
                what: "alarm table key",
                detail: format!("{} bytes, want 12", k.value().len()),
            })?;
            let (m, a) = k.split_at(8);
            let member = u64::from_be_bytes(m.try_into().unwrap_or_default());
            let alarm = i32::from_be_bytes(a.try_into().unwrap_or_default());
            out.push((member, alarm));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    #[test]
    fn alarms_survive_reopen_and_deactivate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        let be = Backend::open(&path).expect("open");
        assert!(be.begin_read().expect("read").alarms().expect("alarms").is_empty());
        let mut w = be.begin_write().expect("write");
        w.put_alarm(0xb71f75320dc06a6c, 1).expect("put");
        w.put_alarm(0xb71f75320dc06a6c, 1).expect("put twice");
        w.put_alarm(7, 2).expect("put");
        w.commit(true).expect("commit");
        drop(be);
        let be = Backend::open(&path).expect("reopen");
        assert_eq!(be.begin_read().expect("read").alarms().expect("alarms"), vec![(7, 2), (0xb71f75320dc06a6c, 1)]);
        let mut w = be.begin_write().expect("write");
        w.delete_alarm(7, 2).expect("delete");
        w.delete_alarm(9, 9).expect("delete absent");
        w.commit(true).expect("commit");
        assert_eq!(be.begin_read().expect("read").alarms().expect("alarms"), vec![(0xb71f75320dc06a6c, 1)]);
    }
}
