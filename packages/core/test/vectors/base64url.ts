/**
 * base64url known answers.
 *
 * Source: RFC 4648, "The Base16, Base32, and Base64 Data Encodings": the section 10 test vectors
 * ("f", "fo", ... "foobar") and the section 9 illustrations (0x14fb9c03d97e and its prefixes),
 * adapted to the URL and filename safe alphabet of section 5 ("-" for "+", "_" for "/") without
 * the "=" padding, which section 3.2 allows a specification to omit and which tokens never carry.
 */
export interface Base64urlVector {
  name: string;
  bytes: readonly number[];
  encoded: string;
}

const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));

export const base64urlVectors: readonly Base64urlVector[] = [
  { name: 'RFC 4648 section 10: ""', bytes: [], encoded: '' },
  { name: 'RFC 4648 section 10: "f"', bytes: ascii('f'), encoded: 'Zg' },
  { name: 'RFC 4648 section 10: "fo"', bytes: ascii('fo'), encoded: 'Zm8' },
  { name: 'RFC 4648 section 10: "foo"', bytes: ascii('foo'), encoded: 'Zm9v' },
  { name: 'RFC 4648 section 10: "foob"', bytes: ascii('foob'), encoded: 'Zm9vYg' },
  { name: 'RFC 4648 section 10: "fooba"', bytes: ascii('fooba'), encoded: 'Zm9vYmE' },
  { name: 'RFC 4648 section 10: "foobar"', bytes: ascii('foobar'), encoded: 'Zm9vYmFy' },
  // Section 9 shows "FPucA9l+" in the standard alphabet: "+" becomes "-" in base64url.
  {
    name: 'RFC 4648 section 9: 0x14fb9c03d97e',
    bytes: [0x14, 0xfb, 0x9c, 0x03, 0xd9, 0x7e],
    encoded: 'FPucA9l-',
  },
  { name: 'RFC 4648 section 9: 0x14fb9c03d9', bytes: [0x14, 0xfb, 0x9c, 0x03, 0xd9], encoded: 'FPucA9k' },
  { name: 'RFC 4648 section 9: 0x14fb9c03', bytes: [0x14, 0xfb, 0x9c, 0x03], encoded: 'FPucAw' },
  // The two characters that differ from standard base64 (section 5), in one vector: 0xfbff is
  // "+/8=" in the standard alphabet.
  { name: 'RFC 4648 section 5 alphabet: 0xfbff', bytes: [0xfb, 0xff], encoded: '-_8' },
];

/**
 * Strings a strict decoder must refuse: padding and the standard alphabet (RFC 4648 section 5
 * forbids them here), a length of 4n+1 (no byte string encodes to it) and non-zero trailing bits
 * (section 3.5: such encodings are not canonical).
 */
export const base64urlRejected: readonly { name: string; encoded: string }[] = [
  { name: 'padding', encoded: 'Zg==' },
  { name: 'standard alphabet "+"', encoded: 'FPucA9l+' },
  { name: 'standard alphabet "/"', encoded: '+/8' },
  { name: 'impossible length 4n+1', encoded: 'Zm9vY' },
  { name: 'non-zero trailing bits after one byte', encoded: 'Zh' },
  { name: 'non-zero trailing bits after two bytes', encoded: 'Zm9' },
  { name: 'whitespace', encoded: 'Zm9v YmFy' },
  { name: 'non-ASCII', encoded: 'Zm9vé' },
];
