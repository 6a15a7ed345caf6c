//! ssv-spec v1.2.2 `types/spectest` conformance: one trial per vector file of
//! `types/spectest/generate/tests` (103 files), plus a count trial and a check of the
//! error-code table against the spec's constants.
//!
//! Each category checks what its Go `Run()` checks (ssv-spec v1.2.2
//! `types/spectest/tests/<pkg>/test*.go`), including `CompareWithJson` (the test's inputs
//! equal its `state_comparison` copy) where Go calls it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ssv_fixtures::suite::{self, Trial};
use ssv_fixtures::{SSV_SPEC_V1_2_2, read_json};

#[path = "spec_types/checks.rs"]
mod checks;
#[path = "spec_types/common.rs"]
mod common;
#[path = "spec_types/maxmsgsize.rs"]
mod maxmsgsize;

/// Number of files in `types/spectest/generate/tests` of the v1.2.2 archive (105 upstream;
/// the two maxmsgsize files of 4 MiB or more are not in the archive, see
/// `ssv-spec-v1.2.2.MISSING.tsv`).
const EXPECTED_FILES: usize = 103;

fn main() -> ExitCode {
    suite::run(|| {
        let root = ssv_fixtures::unpacked(SSV_SPEC_V1_2_2)?;
        let dir = root.join("types").join("spectest").join("generate");
        let tests_dir = dir.join("tests");
        let files = ssv_fixtures::files_with_extension(&tests_dir, ".json")?;
        let sc_dir = dir.join("state_comparison");
        let mut trials = suite::file_trials(&tests_dir, &files, move |file| {
            check_file(file, &sc_dir)
        });
        trials.push(suite::count_trial(
            "types/spectest/generate/tests",
            EXPECTED_FILES,
            files.len(),
        ));
        trials.push(Trial::test("error codes equal types.*ErrorCode of ssv-spec v1.2.2", || {
            common::check_error_code_table().map_err(Into::into)
        }));
        Ok(trials)
    })
}

/// Dispatches a vector file on its category (the file-name prefix before the first `_`).
fn check_file(file: &Path, sc_dir: &Path) -> Result<(), String> {
    let name = file.file_name().and_then(|n| n.to_str()).ok_or("file name is not UTF-8")?;
    let category = name.split('_').next().unwrap_or_default();
    let value: serde_json::Value = read_json(file).map_err(|e| e.to_string())?;
    let sc = common::StateComparison { dir: PathBuf::from(sc_dir), category, test: &value };
    match category {
        "beacon.DepositDataSpecTest" => checks::deposit_data(&value, &sc),
        "beaconvote.EncodingTest" => checks::beacon_vote_encoding(&value, &sc),
        "committeemember.CommitteeMemberTest" => checks::committee_member(&value, &sc),
        "consensusdataproposer.ProposerSpecTest" => checks::proposer(&value, &sc),
        "duty.DutySpecTest" => checks::duty(&value),
        "encryption.EncryptionSpecTest" => checks::encryption(&value),
        "maxmsgsize.StructureSizeTest" => maxmsgsize::structure_size(&value),
        "partialsigmessage.EncodingTest" => checks::partial_sig_encoding(&value, &sc),
        "partialsigmessage.MsgSpecTest" => checks::partial_sig_msg(&value, &sc),
        "share.EncodingTest" => checks::share_encoding(&value, &sc),
        "signedssvmsg.EncodingTest" => checks::signed_ssv_encoding(&value),
        "signedssvmsg.SignedSSVMessageTest" => checks::signed_ssv_message(&value),
        "ssvmsg.EncodingTest" => checks::ssv_message_encoding(&value, &sc),
        "ssvmsg.SSVMessageTest" => checks::ssv_message(&value, &sc),
        "ssz.SSZSpecTest" => checks::ssz_withdrawals(&value),
        "validatorconsensusdata.EncodingTest" => checks::vcd_encoding(&value, &sc),
        "validatorconsensusdata.ValidatorConsensusDataTest" => checks::vcd_validation(&value, &sc),
        other => Err(format!("unknown test category {other:?}: no harness for it")),
    }
}
