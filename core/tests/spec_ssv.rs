//! ssv-spec v1.2.2 `ssv/` vectors: one trial per file of `ssv/spectest/generate/tests`
//! (154 files; the three ≥ 4 MiB MultiCommittee files listed in
//! `ssv-spec-v1.2.2.MISSING.tsv` are absent from the archive), plus a count trial.
//!
//! Requests of the sans-IO runners are answered at once by the spec's mock beacon node and
//! testing key manager (`ssv_fixtures::mock_beacon`), so outputs and errors follow the Go
//! runners' synchronous order. A multi-test file passes when every sub-test passes; a
//! failing file lists its failing sub-tests.

#[path = "shared/go_json.rs"]
mod go_json;

mod spec_ssv {
    pub(crate) mod committee;
    pub(crate) mod common;
    pub(crate) mod simple;
    pub(crate) mod validator;
}

use std::path::Path;

use serde_json::Value;
use ssv_fixtures::suite::{self, Trial};

use spec_ssv::common::R;

const FILES_EXPECTED: usize = 154;

fn main() -> std::process::ExitCode {
    suite::run(|| {
        let root = ssv_fixtures::unpacked(ssv_fixtures::SSV_SPEC_V1_2_2)?;
        let dir = root.join("ssv/spectest/generate/tests");
        let sc = root.join("ssv/spectest/generate/state_comparison");
        let files = ssv_fixtures::files_with_extension(&dir, "json")?;
        let mut trials: Vec<Trial> = vec![suite::count_trial("ssv", FILES_EXPECTED, files.len())];
        trials.extend(suite::file_trials(&dir, &files, move |p| run_file(p, &sc)));
        Ok(trials)
    })
}

fn run_file(path: &Path, sc: &Path) -> R {
    let v: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let kind = stem.split('_').next().unwrap_or_default();
    match kind {
        "partialsigcontainer.PartialSigContainerTest" => {
            spec_ssv::simple::partial_sig_container(&v)
        }
        "valcheck.SpecTest" => spec_ssv::simple::valcheck(&v),
        "valcheck.MultiSpecTest" => multi(&v, spec_ssv::simple::valcheck),
        "committee.CommitteeSpecTest" => {
            spec_ssv::committee::committee_test(&v, sc, "committee_CommitteeSpecTest", None)
        }
        "committee.MultiCommitteeSpecTest" => {
            let dir = v["Name"].as_str().unwrap_or_default().replace(' ', "_");
            multi(&v, |t| {
                spec_ssv::committee::committee_test(
                    t,
                    sc,
                    "committee_MultiCommitteeSpecTest",
                    Some(&dir),
                )
            })
        }
        "tests.MsgProcessingSpecTest" => {
            spec_ssv::committee::msg_processing(&v, sc, "tests_MsgProcessingSpecTest", None)
        }
        "tests.MultiMsgProcessingSpecTest" => {
            let dir = v["Name"].as_str().unwrap_or_default().replace(' ', "_");
            multi(&v, |t| {
                spec_ssv::committee::msg_processing(
                    t,
                    sc,
                    "tests_MultiMsgProcessingSpecTest",
                    Some(&dir),
                )
            })
        }
        "synccommitteeaggregator.SyncCommitteeAggregatorProofSpecTest" => {
            spec_ssv::validator::sync_committee_aggregator(&v, sc)
        }
        "runnerconstruction.RunnerConstructionSpecTest" => {
            spec_ssv::validator::runner_construction(&v)
        }
        "newduty.MultiStartNewRunnerDutySpecTest" => {
            let dir = v["Name"].as_str().unwrap_or_default().replace(' ', "_");
            multi(&v, |t| spec_ssv::validator::new_duty(t, sc, &dir))
        }
        other => Err(format!("{other}: not implemented by the harness yet")),
    }
}

/// Runs every sub-test of a multi-test file; fails listing the failing ones.
fn multi(v: &Value, run: impl Fn(&Value) -> R) -> R {
    let tests = v["Tests"].as_array().ok_or("no Tests")?;
    let mut failed = Vec::new();
    for t in tests {
        if let Err(e) = run(t) {
            failed.push(format!("  {}: {e}", t["Name"].as_str().unwrap_or("?")));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of {} sub-tests failed:\n{}", failed.len(), tests.len(), failed.join("\n")))
    }
}
