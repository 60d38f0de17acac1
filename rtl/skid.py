"""A skid buffer: one register stage on a valid/ready handshake, at full throughput.

VALID and the payload leave the buffer from registers, and READY leaves it from a register
too, so no combinational path crosses it in either direction. A transfer takes one more
cycle, and the handshake still moves one transfer per cycle while its sink keeps READY high.
The cost is two payload registers (the output register and the skid register that catches
the transfer accepted in the cycle the sink stops).
"""

from amaranth import Signal

__all__ = ["skid_buffer"]


def skid_buffer(m, name, *, source_valid, source_ready, source_payload, sink_valid,
                sink_ready, sink_payload, domain="sync"):
    """Add a skid buffer called ``name`` to module ``m``, in clock domain ``domain``, from the
    ``source_*`` handshake (whose VALID and payload it reads and whose READY it drives) to
    the ``sink_*`` one (whose READY it reads)."""
    width = len(source_payload)
    out_valid = Signal(name=f"{name}_out_valid")
    out_payload = Signal(width, name=f"{name}_out_payload")
    skid_valid = Signal(name=f"{name}_skid_valid")
    skid_payload = Signal(width, name=f"{name}_skid_payload")
    m.d.comb += [
        sink_valid.eq(out_valid),
        sink_payload.eq(out_payload),
        source_ready.eq(~skid_valid),
    ]
    sync = m.d[domain]
    # The skid register samples the source whenever it is empty, so its enable is a register
    # (fanned out to every payload bit) rather than the source's VALID: its contents matter
    # only once skid_valid is set, in the cycle that sets it.
    with m.If(~skid_valid):
        sync += skid_payload.eq(source_payload)
    with m.If(~out_valid | sink_ready):
        # The output register is free: it takes the skid register's transfer first, which is
        # older than anything the source offers (the source sees READY low meanwhile).
        with m.If(skid_valid):
            sync += [out_valid.eq(1), out_payload.eq(skid_payload), skid_valid.eq(0)]
        with m.Else():
            sync += [out_valid.eq(source_valid), out_payload.eq(source_payload)]
    with m.Elif(source_valid & ~skid_valid):
        # The sink stalls while the source hands over a transfer: keep it aside.
        sync += skid_valid.eq(1)
