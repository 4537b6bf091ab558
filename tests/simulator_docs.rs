//! `docs/simulator.md` cannot go stale: every table marked `<!-- quick -->` is the
//! output of the command shown above it, and this test runs each such command and
//! fails if the committed table differs. `BYTERANK_BLESS=1 cargo test --test
//! simulator_docs` rewrites the tables instead (then read the diff: the text
//! around them must still say what they show).

use std::path::Path;
use std::process::Command;

/// A quick table in the docs: where its output block sits, the command, the text.
struct Block {
    args: Vec<String>,
    start: usize,
    end: usize,
    text: String,
}

fn blocks(doc: &str) -> Vec<Block> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "<!-- quick -->" {
            i += 1;
            continue;
        }
        assert_eq!(lines[i + 1], "```console", "a quick table starts with its command, line {}", i + 2);
        let cmd = lines[i + 2].strip_prefix("$ cargo run --release -- ").expect("the command runs byterank");
        assert_eq!(lines[i + 3], "```");
        assert_eq!(lines[i + 4], "```text", "the command's output follows it, line {}", i + 5);
        let start = i + 5;
        let end = start + lines[start..].iter().position(|l| *l == "```").expect("the output block ends");
        out.push(Block {
            args: cmd.split_whitespace().map(str::to_string).collect(),
            start,
            end,
            text: lines[start..end].join("\n"),
        });
        i = end;
    }
    out
}

fn regenerate(b: &Block, out: &Path) -> String {
    let mut args = b.args.clone();
    let at = args.iter().position(|a| a == "--out").expect("the command names --out");
    args[at + 1] = out.display().to_string();
    args.push("--force".into());
    let o = Command::new(env!("CARGO_BIN_EXE_byterank"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    // The last line is the machine's (events, wall time, memory): not in the docs.
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.contains(" events in ")).collect();
    lines.join("\n")
}

#[test]
fn the_quick_tables_of_the_simulator_docs_are_what_their_commands_print() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/simulator.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let found = blocks(&doc);
    assert!(found.len() >= 2, "the docs mark their quick tables: {} found", found.len());
    let out = std::env::temp_dir().join(format!("byterank-docs-{}", std::process::id()));
    let bless = std::env::var_os("BYTERANK_BLESS").is_some();
    let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
    let mut stale = Vec::new();
    // From the last, so that rewriting one block leaves the others' lines in place.
    for b in found.iter().rev() {
        let now = regenerate(b, &out);
        if now != b.text {
            stale.push(format!("`{}`:\n--- committed\n{}\n--- now\n{now}", b.args.join(" "), b.text));
            lines.splice(b.start..b.end, now.lines().map(str::to_string));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    if bless && !stale.is_empty() {
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        return;
    }
    assert!(stale.is_empty(), "docs/simulator.md is stale (BYTERANK_BLESS=1 rewrites it):\n{}", stale.join("\n\n"));
}
