// SMS segment counting for the composer: the same results as inbox/segments.py (change both
// together). GSM-7 when every character is in the GSM 03.38 basic set or its extension table
// (extension characters cost 2 septets), otherwise UCS-2 counted in UTF-16 code units (an
// emoji is a surrogate pair: 2). One segment holds 160 septets / 70 units; longer messages
// are split into 153 / 67, never splitting an escape pair or a surrogate pair.

const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENSION = new Set("\f^{}\\[~]|€");
const LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };

function gsmCost(char) {
  if (GSM_BASIC.has(char)) return 1;
  if (GSM_EXTENSION.has(char)) return 2;
  return 0; // not encodable in GSM-7
}

export function countSegments(text) {
  const chars = Array.from(text || ""); // code points, not UTF-16 units
  let encoding = "GSM-7";
  let costs = chars.map(gsmCost);
  if (costs.some((cost) => cost === 0)) {
    encoding = "UCS-2";
    costs = chars.map((char) => char.length); // 2 for a surrogate pair
  }
  const [single, multi] = LIMITS[encoding];
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  if (units === 0) {
    return { encoding, units: 0, segments: 0, perSegment: single, remaining: single };
  }
  if (units <= single) {
    return { encoding, units, segments: 1, perSegment: single, remaining: single - units };
  }
  // Greedy fill: a character that does not fit whole starts the next segment.
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > multi) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { encoding, units, segments, perSegment: multi, remaining: multi - used };
}
