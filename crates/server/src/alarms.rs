//! The alarms of the cluster: raised and cleared only by applying an
//! `AlarmRequest` from the Raft log, so every member agrees; kept in the
//! backend `alarm` table, so they survive restarts (etcd's `alarm` bucket).

use std::collections::BTreeSet;
use std::sync::Mutex;

use api::etcdserverpb::alarm_request::AlarmAction;
use api::etcdserverpb::{AlarmMember, AlarmRequest, AlarmResponse, AlarmType};

use crate::error::{EtcdError, EtcdResult};

/// The active alarms, as `(member id, alarm type)`.
#[derive(Default)]
pub struct Alarms {
    active: Mutex<BTreeSet<(u64, i32)>>,
}

impl Alarms {
    /// Loads the alarms recorded in the backend.
    pub fn restore(store: &mvcc::Store) -> backend::Result<Alarms> {
        let active = store.backend().begin_read()?.alarms()?.into_iter().collect();
        Ok(Alarms { active: Mutex::new(active) })
    }

    /// Replaces the alarms with those recorded in the backend (after the
    /// store installed a Raft snapshot).
    pub fn reload(&self, store: &mvcc::Store) -> backend::Result<()> {
        let active = store.backend().begin_read()?.alarms()?.into_iter().collect();
        *self.set() = active;
        Ok(())
    }

    fn set(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, i32)>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The active alarms of type `alarm` (`NONE`: all), in etcd's order.
    pub fn list(&self, alarm: AlarmType) -> Vec<AlarmMember> {
        self.set()
            .iter()
            .filter(|(_, a)| alarm == AlarmType::None || *a == alarm as i32)
            .map(|&(member_id, alarm)| AlarmMember { member_id, alarm })
            .collect()
    }

    /// Whether any member has raised `alarm`.
    pub fn is_active(&self, alarm: AlarmType) -> bool {
        self.set().iter().any(|(_, a)| *a == alarm as i32)
    }

    /// Applies an ACTIVATE or DEACTIVATE from the log in `txn` (GET is served
    /// without the log). The response lists the alarm if it changed, as etcd's.
    pub fn apply(&self, txn: &mut backend::WriteTxn, req: &AlarmRequest) -> EtcdResult<AlarmResponse> {
        let key = (req.member_id, req.alarm);
        let name = AlarmType::try_from(req.alarm).map(|a| a.as_str_name()).unwrap_or("UNKNOWN");
        let from = format!("{:x}", req.member_id);
        let mut set = self.set();
        let changed = match AlarmAction::try_from(req.action) {
            Ok(AlarmAction::Activate) => {
                if req.alarm == AlarmType::None as i32 {
                    return Ok(AlarmResponse::default());
                }
                txn.put_alarm(req.member_id, req.alarm).map_err(internal)?;
                let new = set.insert(key);
                if new {
                    tracing::warn!(alarm = name, from = %from, "alarm raised");
                }
                new
            }
            Ok(AlarmAction::Deactivate) => {
                txn.delete_alarm(req.member_id, req.alarm).map_err(internal)?;
                let was = set.remove(&key);
                if was {
                    tracing::warn!(alarm = name, from = %from, "alarm disarmed");
                }
                was
            }
            _ => false,
        };
        let alarms = if changed { vec![AlarmMember { member_id: req.member_id, alarm: req.alarm }] } else { vec![] };
        Ok(AlarmResponse { header: None, alarms })
    }
}

fn internal(e: backend::Error) -> EtcdError {
    EtcdError::Internal(e.to_string())
}

/// How `Status.errors` and `etcdctl alarm list` spell an alarm (with etcd's
/// trailing space).
pub fn describe(a: &AlarmMember) -> String {
    let name = AlarmType::try_from(a.alarm).map(|t| t.as_str_name()).unwrap_or("UNKNOWN");
    format!("memberID:{} alarm:{} ", a.member_id, name)
}
