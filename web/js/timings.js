// Where a live turn's time went, in one line: the stages the gpu_service timed (TurnTimings), from the end of
// what you said (or your message's arrival) to the reply's first sound going out.

const STEPS = [
  // [label, the stage that ends it]; each step lasts from the previous stage reached to its own.
  ["heard", "turn_end_s"],
  ["understood", "transcript_s"],
  ["thought", "first_clause_s"],
  ["voiced", "first_audio_s"],
  ["sent", "first_packet_s"],
];

export function breakdown(timings) {
  if (!timings || timings.first_packet_s == null) return null;
  const steps = [];
  let previous = 0;
  for (const [label, stage] of STEPS) {
    const at = timings[stage];
    if (at == null) continue;
    steps.push(`${label} ${(at - previous).toFixed(2)}`);
    previous = at;
  }
  return `answered after ${timings.first_packet_s.toFixed(1)} s: ${steps.join(" · ")}`;
}
