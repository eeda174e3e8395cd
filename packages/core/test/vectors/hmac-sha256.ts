/**
 * HMAC-SHA-256 known answers.
 *
 * Source: RFC 4231, "Identifiers and Test Vectors for HMAC-SHA-224, HMAC-SHA-256, HMAC-SHA-384,
 * and HMAC-SHA-512", section 4 (test cases 1, 2, 3, 4, 6 and 7). Test case 5 is left out: it
 * checks output truncated to 128 bits, which we never use.
 */
export interface HmacVector {
  name: string;
  keyHex: string;
  dataHex: string;
  macHex: string;
}

const hexOf = (text: string) => Array.from(text, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');

export const hmacSha256Vectors: readonly HmacVector[] = [
  {
    name: 'RFC 4231 test case 1',
    keyHex: '0b'.repeat(20),
    dataHex: hexOf('Hi There'),
    macHex: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  },
  {
    name: 'RFC 4231 test case 2: a key shorter than the output',
    keyHex: hexOf('Jefe'),
    dataHex: hexOf('what do ya want for nothing?'),
    macHex: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  {
    name: 'RFC 4231 test case 3: combined key and data of 50 bytes',
    keyHex: 'aa'.repeat(20),
    dataHex: 'dd'.repeat(50),
    macHex: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  },
  {
    name: 'RFC 4231 test case 4: 25-byte key 0x01..0x19',
    keyHex: '0102030405060708090a0b0c0d0e0f10111213141516171819',
    dataHex: 'cd'.repeat(50),
    macHex: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  },
  {
    name: 'RFC 4231 test case 6: a key larger than the block (131 bytes)',
    keyHex: 'aa'.repeat(131),
    dataHex: hexOf('Test Using Larger Than Block-Size Key - Hash Key First'),
    macHex: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
  {
    name: 'RFC 4231 test case 7: key and data larger than the block',
    keyHex: 'aa'.repeat(131),
    dataHex: hexOf(
      'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
    ),
    macHex: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  },
];
