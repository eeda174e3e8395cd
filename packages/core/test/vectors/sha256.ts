/**
 * SHA-256 known answers.
 *
 * Source: NIST FIPS 180-4, "Secure Hash Standard", and the NIST example values for SHA-256
 * ("SHA256.pdf", Cryptographic Standards and Guidelines: Examples with Intermediate Values),
 * which the NIST CAVP short/long message tests also use: the one-block message "abc", the
 * two-block 448-bit message, and one million repetitions of "a". The empty-message digest is the
 * CAVP SHA256ShortMsg entry for Len = 0.
 */
export interface Sha256Vector {
  name: string;
  /** The message as text (ASCII), or built by `repeat` for the long message. */
  message: string;
  digestHex: string;
}

export const sha256Vectors: readonly Sha256Vector[] = [
  {
    name: 'FIPS 180-4 example: "abc" (one block)',
    message: 'abc',
    digestHex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  },
  {
    name: 'CAVP SHA256ShortMsg Len = 0: the empty message',
    message: '',
    digestHex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  },
  {
    name: 'FIPS 180-4 example: the 448-bit message (two blocks)',
    message: 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    digestHex: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
  {
    name: 'FIPS 180-4 example: one million repetitions of "a"',
    message: 'a'.repeat(1_000_000),
    digestHex: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
  },
];
