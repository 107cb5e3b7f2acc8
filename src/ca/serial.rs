//! Certificate serial numbers: 16 random bytes, positive (RFC 5280 §4.1.2.2 allows up to 20
//! octets; CA/B Forum asks for at least 64 bits of randomness — this has 127).

use x509_cert::serial_number::SerialNumber;

/// A fresh random positive 16-byte serial number.
pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    // Clear the sign bit and keep the first byte non-zero so the INTEGER stays 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).expect("16 bytes is within the 20-octet limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_sixteen_bytes_and_differ() {
        let a = random_serial();
        let b = random_serial();
        assert_eq!(a.as_bytes().len(), 16);
        assert!(a.as_bytes()[0] & 0x80 == 0 && a.as_bytes()[0] != 0);
        assert_ne!(a, b);
    }
}
