//! The operator's grid is the engine's ranking in force: every device's rank in
//! it is the one `/v1/devices/me` reports, between refreshes too, and devices
//! that joined or left since the last refresh wait for the next one.

use byterank_core::{Device, EngineConfig, Timestamp};
use byterank_http::api::{CreateOwner, GridQuery, RegisterDevice};
use byterank_http::auth::Secret;
use byterank_http::service::{Op, Principal, Service};

/// Each listed device's rank, and the rank its own view reports.
fn ranks(svc: &Service) -> Vec<(String, u32, u32)> {
    let grid = svc.grid(&Principal::Operator, &GridQuery { top: Some(1_000) }).unwrap();
    assert_eq!(grid.devices as usize, grid.ranked.len());
    assert_eq!(grid.active as usize, grid.ranked.iter().filter(|l| l.rank > 0).count());
    grid.ranked
        .iter()
        .map(|l| (l.id.clone(), l.rank, svc.device_view(&Principal::Device(l.id.clone())).unwrap().rank))
        .collect()
}

#[test]
fn the_grid_reads_the_ranking_in_force() {
    let mut svc = Service::new(EngineConfig::default()).unwrap();
    let mut at = Timestamp(1_795_662_000_000);
    let owner = Principal::Owner("o".into());
    svc.create_owner(at, None, CreateOwner { owner: "o".into() }, Secret::generate()).unwrap();
    for (i, score) in [100.0, 400.0, 250.0, 50.0].into_iter().enumerate() {
        let device = Device { processor_score: Some(score), ..Device::new(format!("d{i}")) };
        svc.register_device(at, Some(&owner), RegisterDevice { device, owner: "o".into() }, Secret::generate())
            .unwrap();
    }
    assert!(ranks(&svc).is_empty(), "nothing ranked before the first refresh");
    at = Timestamp(at.millis() + 30_000);
    svc.apply(at, &Op::Tick).unwrap();
    let ranked = ranks(&svc);
    let order: Vec<&str> = ranked.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(order, ["d1", "d2", "d0", "d3"], "best first, by processor score");
    for (id, grid, me) in &ranked {
        assert_eq!(grid, me, "{id}");
    }
    // A device becomes the fastest, another joins: until the next refresh the
    // grid and the devices' own views keep the ranking in force.
    at = Timestamp(at.millis() + 1_000);
    let fast = Device { processor_score: Some(900.0), ..Device::new("d3") };
    svc.update_status(at, &Principal::Device("d3".into()), fast).unwrap();
    let late = Device { processor_score: Some(800.0), ..Device::new("d4") };
    svc.register_device(at, Some(&owner), RegisterDevice { device: late, owner: "o".into() }, Secret::generate())
        .unwrap();
    assert_eq!(ranks(&svc), ranked, "between refreshes, the ranking in force");
    at = Timestamp(at.millis() + 30_000);
    svc.apply(at, &Op::Tick).unwrap();
    let after = ranks(&svc);
    let order: Vec<&str> = after.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(order, ["d3", "d4", "d1", "d2", "d0"]);
    assert!(after.iter().all(|(_, grid, me)| grid == me), "{after:?}");
}
