//! The node's libp2p identity: a secp256k1 key kept in the data directory.

use std::path::Path;

use libp2p::identity::{Keypair, secp256k1};

use super::NetworkError;

/// File name of the network key inside the data directory: 64 hex characters of the
/// secp256k1 secret.
pub const NETWORK_KEY_FILE: &str = "network_key";

/// Loads the network key from `data_dir/network_key`, or creates one there (mode 0600 on
/// Unix) if the file does not exist.
///
/// # Errors
/// [`NetworkError::Key`] when the file cannot be read or written or holds no valid key.
pub fn load_or_create_network_key(data_dir: &Path) -> Result<Keypair, NetworkError> {
    let path = data_dir.join(NETWORK_KEY_FILE);
    let err = |e: &dyn std::fmt::Display| NetworkError::Key(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut bytes = hex::decode(text.trim()).map_err(|e| err(&e))?;
            let secret = secp256k1::SecretKey::try_from_bytes(&mut bytes).map_err(|e| err(&e))?;
            Ok(secp256k1::Keypair::from(secret).into())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keypair = secp256k1::Keypair::generate();
            std::fs::create_dir_all(data_dir).map_err(|e| err(&e))?;
            let text = hex::encode(keypair.secret().to_bytes());
            write_private(&path, text.as_bytes()).map_err(|e| err(&e))?;
            Ok(keypair.into())
        }
        Err(e) => Err(err(&e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = super::load_or_create_network_key(dir.path()).unwrap();
        let b = super::load_or_create_network_key(dir.path()).unwrap();
        assert_eq!(a.public().to_peer_id(), b.public().to_peer_id());
        assert!(a.try_into_secp256k1().is_ok());
        std::fs::write(dir.path().join(super::NETWORK_KEY_FILE), "zz").unwrap();
        assert!(super::load_or_create_network_key(dir.path()).is_err());
    }
}
