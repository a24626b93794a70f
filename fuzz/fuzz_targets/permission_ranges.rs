//! Any grants and any request range: merging and checking never panic, and
//! a request inside one grant of the right type is allowed.
#![no_main]

use api::authpb::{Permission, Role};
use auth::{Access, Permissions, is_valid_permission_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<(u8, Vec<u8>, Vec<u8>)>, Vec<u8>, Vec<u8>)| {
    let (grants, key, range_end) = input;
    let key_permission: Vec<Permission> = grants
        .into_iter()
        .map(|(t, key, range_end)| Permission { perm_type: i32::from(t % 3), key, range_end })
        .filter(is_valid_permission_range)
        .collect();
    let role = Role { name: b"r".to_vec(), key_permission: key_permission.clone() };
    let p = Permissions::merge([&role]);
    let read = p.allows(Access::Read, &key, &range_end);
    let _ = p.allows(Access::Write, &key, &range_end);
    // The request is exactly a read grant: allowed.
    if let Some(g) = key_permission.iter().find(|g| g.perm_type != 1) {
        assert!(p.allows(Access::Read, &g.key, &g.range_end), "{g:?}");
    }
    let _ = read;
});
