//! The `ssv-node` command line: `run`, `config`, `keygen` and `slashing-protection`.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use ssv_core::types::Root;

use crate::config::{Config, ConfigError, Overrides};
use crate::keys::{self, KeyError, Pbkdf2Params};
use crate::node::{self, NodeError};
use crate::slashing_protection::{SlashingDatabase, SlashingProtectionError};

/// `ssv-node`.
#[derive(Debug, Parser)]
#[command(name = "ssv-node", version, about = "SSV operator node (ssv-spec v1.2.2, Alan)")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node until SIGINT or SIGTERM.
    Run(ConfigArgs),
    /// Show configuration.
    Config {
        /// Print the default configuration as YAML (a starting config file).
        #[arg(long, conflicts_with = "print")]
        print_default: bool,
        /// Print the effective configuration (file, then environment, then flags).
        #[arg(long)]
        print: bool,
        /// The configuration sources.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Generate an RSA-2048 operator key.
    Keygen {
        /// Where to write the key (must not exist).
        #[arg(long, default_value = "operator_key.pem")]
        out: PathBuf,
        /// Write an encrypted keystore JSON instead of a PEM.
        #[arg(long)]
        encrypt: bool,
        /// The keystore's password file (read if it exists, else created with a random
        /// password). Default: `<out>.password`.
        #[arg(long, requires = "encrypt")]
        password_file: Option<PathBuf>,
    },
    /// Import or export slashing protection in the EIP-3076 interchange format (v5).
    #[command(subcommand)]
    SlashingProtection(SlashingProtectionCommand),
}

/// `ssv-node slashing-protection …`.
#[derive(Debug, Subcommand)]
pub enum SlashingProtectionCommand {
    /// Import an interchange file ("complete" strategy: every record kept).
    Import {
        /// The interchange JSON.
        file: PathBuf,
        /// The configuration sources.
        #[command(flatten)]
        config: ConfigArgs,
        /// Chain of the database, for the devnet (named networks know theirs). Default for
        /// an import: the file's.
        #[arg(long, value_parser = parse_root)]
        genesis_validators_root: Option<Root>,
    },
    /// Export every record to an interchange file.
    Export {
        /// Where to write the interchange JSON (must not exist).
        file: PathBuf,
        /// The configuration sources.
        #[command(flatten)]
        config: ConfigArgs,
        /// Chain of the database, required for the devnet.
        #[arg(long, value_parser = parse_root)]
        genesis_validators_root: Option<Root>,
    },
}

/// `--config FILE` and the per-field overrides.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// YAML configuration file (`ssv-node config --print-default` writes a start).
    #[arg(long, env = "SSV_CONFIG")]
    pub config: Option<PathBuf>,
    /// Overrides of single fields.
    #[command(flatten)]
    pub overrides: Overrides,
}

impl ConfigArgs {
    /// Loads the effective configuration.
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::load(self.config.as_deref(), &self.overrides)
    }
}

fn parse_root(text: &str) -> Result<Root, String> {
    let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|e| e.to_string())?;
    Root::try_from(bytes.as_slice()).map_err(|_| "expected 32 bytes of hex".to_owned())
}

/// Any failure of a command, with a message fit for an operator.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Keys.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Slashing protection.
    #[error(transparent)]
    SlashingProtection(#[from] SlashingProtectionError),
    /// The node.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Something else, said in full.
    #[error("{0}")]
    Other(String),
}

/// Runs one command to completion.
pub fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(args) => {
            let config = args.load()?;
            node::run_blocking(config)?;
            Ok(())
        }
        Command::Config { print_default, print, config } => {
            if print_default {
                print!("{}", Config::default().to_yaml());
            } else if print {
                print!("{}", config.load()?.to_yaml());
            } else {
                config.load()?;
                println!("configuration is valid");
            }
            Ok(())
        }
        Command::Keygen { out, encrypt, password_file } => {
            let password_file = encrypt.then(|| {
                password_file.unwrap_or_else(|| {
                    let mut p = out.clone().into_os_string();
                    p.push(".password");
                    PathBuf::from(p)
                })
            });
            let g = keys::keygen(&out, password_file.as_deref(), Pbkdf2Params::STANDARD)?;
            eprintln!("operator key written to {}", g.key_path.display());
            if let Some(p) = &g.password_path {
                eprintln!("keystore password in {}", p.display());
            }
            // The public key (base64 PEM, as registered on the SSVNetwork contract) on stdout.
            println!("{}", g.public_key_base64);
            Ok(())
        }
        Command::SlashingProtection(cmd) => slashing_protection(cmd),
    }
}

fn slashing_protection(cmd: SlashingProtectionCommand) -> Result<(), CliError> {
    match cmd {
        SlashingProtectionCommand::Import { file, config, genesis_validators_root } => {
            let config = config.load()?;
            let text = std::fs::read_to_string(&file)
                .map_err(|source| CliError::Io { path: file.clone(), source })?;
            let root = match genesis_validators_root.or(config.preset().genesis_validators_root) {
                Some(root) => root,
                None => interchange_root(&text)?,
            };
            let db = open_slashing_db(&config, root)?;
            let summary = db.import_interchange_json(text.as_bytes())?;
            eprintln!(
                "imported {} keys: {} blocks, {} attestations",
                summary.entries, summary.blocks, summary.attestations
            );
            Ok(())
        }
        SlashingProtectionCommand::Export { file, config, genesis_validators_root } => {
            let config = config.load()?;
            let root = genesis_validators_root
                .or(config.preset().genesis_validators_root)
                .ok_or_else(|| {
                    CliError::Other(
                        "the devnet has no fixed genesis: pass --genesis-validators-root".into(),
                    )
                })?;
            let db = open_slashing_db(&config, root)?;
            let interchange = db.export_interchange()?;
            let json = serde_json::to_string_pretty(&interchange)
                .map_err(|e| CliError::Other(e.to_string()))?;
            write_new(&file, json.as_bytes())?;
            eprintln!("exported {} keys to {}", interchange.data.len(), file.display());
            Ok(())
        }
    }
}

fn interchange_root(text: &str) -> Result<Root, CliError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| CliError::Other(format!("invalid interchange file: {e}")))?;
    value["metadata"]["genesis_validators_root"]
        .as_str()
        .ok_or_else(|| CliError::Other("interchange file has no genesis_validators_root".into()))
        .and_then(|s| parse_root(s).map_err(CliError::Other))
}

fn open_slashing_db(config: &Config, root: Root) -> Result<SlashingDatabase, CliError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| CliError::Io { path: config.data_dir.clone(), source })?;
    Ok(SlashingDatabase::open(config.slashing_db_path(), root)?)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| CliError::Io { path: path.to_owned(), source })?;
    f.write_all(bytes).map_err(|source| CliError::Io { path: path.to_owned(), source })
}
