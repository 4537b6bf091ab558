//! Ranks the sample grid shipped in `examples/` and prints the top devices.
//!
//! `cargo run --example rank_grid`

use byterank::core::grid::{Grid, GridSnapshot};
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample-grid.json");
    let grid = Grid::from_json_str(&std::fs::read_to_string(path)?)?;
    let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
    for (pos, &i) in ranked.ranking.order().iter().enumerate() {
        let ix = &ranked.indexes[i as usize];
        println!(
            "{:>3}. {:<16} capacity {:>7.1}  fault rate {:.3}",
            pos + 1,
            grid.device(i as usize).id,
            ix.capacity,
            ix.fault_rate
        );
    }
    let flagged = (0..grid.len()).filter(|&i| ranked.ranking.rank(i) == 0);
    for i in flagged {
        let names: Vec<_> = ranked.indexes[i].flags.iter().map(|f| f.name()).collect();
        println!("  -  {:<16} out: {}", grid.device(i).id, names.join(", "));
    }
    Ok(())
}
