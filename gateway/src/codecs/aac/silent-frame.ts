/**
 * A silent AAC-LC frame (one raw_data_block, 1,024 samples of silence) for mono and stereo, built from the
 * syntax of ISO/IEC 14496-3 §4.4.2: one single_channel_element (mono) or channel_pair_element without a common
 * window (stereo) whose individual_channel_stream has max_sfb = 0 (no scale-factor bands, so every spectral
 * coefficient is zero), no pulse/TNS/gain-control data, then the END element, byte-aligned. Used to fill holes
 * in an AAC track: a player's audio clock counts the samples it decodes, so a hole stretched into one frame's
 * duration leaves the audio clock behind the media timeline until playback stalls (docs/media-llhls.md).
 * Written here because it is a few bits of the standard, not worth an encoder dependency.
 */

const ID_SCE = 0;
const ID_CPE = 1;
const ID_END = 7;
/** Any value: with no bands there is nothing for the gain to scale. */
const GLOBAL_GAIN = 0xa0;

class BitWriter {
  private readonly bits: number[] = [];
  write(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) this.bits.push((value >> i) & 1);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((bit, i) => {
      if (bit) out[i >> 3] |= 0x80 >> (i & 7);
    });
    return out;
  }
}

/** individual_channel_stream with an empty long window. */
function writeEmptyChannelStream(w: BitWriter): void {
  w.write(GLOBAL_GAIN, 8);
  w.write(0, 1); // ics_reserved_bit
  w.write(0, 2); // window_sequence: ONLY_LONG_SEQUENCE
  w.write(0, 1); // window_shape: sine
  w.write(0, 6); // max_sfb = 0: no section, scale factor or spectral data follows
  w.write(0, 1); // predictor_data_present
  w.write(0, 1); // pulse_data_present
  w.write(0, 1); // tns_data_present
  w.write(0, 1); // gain_control_data_present
}

const cache = new Map<number, Uint8Array>();

/** A silent raw AAC-LC frame for 1 or 2 channels, or null for other layouts (the caller then leaves the hole). */
export function silentAacFrame(channels: number): Uint8Array | null {
  if (channels !== 1 && channels !== 2) return null;
  const known = cache.get(channels);
  if (known) return known;
  const w = new BitWriter();
  if (channels === 1) {
    w.write(ID_SCE, 3);
    w.write(0, 4); // element_instance_tag
    writeEmptyChannelStream(w);
  } else {
    w.write(ID_CPE, 3);
    w.write(0, 4); // element_instance_tag
    w.write(0, 1); // common_window = 0: each channel has its own ics_info
    writeEmptyChannelStream(w);
    writeEmptyChannelStream(w);
  }
  w.write(ID_END, 3);
  const frame = w.bytes();
  cache.set(channels, frame);
  return frame;
}

/** True for an AudioSpecificConfig whose audio object type is AAC LC (2), the type the silent frame is for. */
export function isAacLc(audioSpecificConfig: Uint8Array): boolean {
  return audioSpecificConfig.length >= 2 && audioSpecificConfig[0]! >> 3 === 2;
}
