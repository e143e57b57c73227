package sim

import "github.com/ringfence/ringfence/totem/wire"

// WireCodec puts a message through the real byte codec, Encode then
// Decode, as the daemon's transport does. It is the simulator's default.
func WireCodec(m wire.Message) (wire.Message, error) {
	b, err := wire.Encode(m)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

// DefaultCodec gives every receiver its own deep copy of a message without
// going through bytes; it is cheaper than WireCodec.
func DefaultCodec(m wire.Message) (wire.Message, error) {
	switch v := m.(type) {
	case *wire.OrfToken:
		c := *v
		c.RtrList = append([]wire.RtrItem(nil), v.RtrList...)
		return &c, nil
	case *wire.CommitToken:
		c := *v
		c.Addr = append([]uint32(nil), v.Addr...)
		c.MembList = append([]wire.CommitMember(nil), v.MembList...)
		return &c, nil
	case *wire.Join:
		c := *v
		c.ProcList = append([]uint32(nil), v.ProcList...)
		c.FailedList = append([]uint32(nil), v.FailedList...)
		return &c, nil
	case *wire.Mcast:
		c := *v
		c.Payload = append([]byte(nil), v.Payload...)
		return &c, nil
	case *wire.MergeDetect:
		c := *v
		return &c, nil
	case *wire.TokenHoldCancel:
		c := *v
		return &c, nil
	}
	return m, nil
}
