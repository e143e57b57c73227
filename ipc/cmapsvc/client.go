package cmapsvc

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/client"
)

// Client is a Go libcmap: typed cmap requests over an ipc/client
// connection, against ringfenced or a real corosync.
type Client struct {
	c       *client.Client
	Timeout time.Duration // per request (default: wait forever, like libcmap)
}

// Dial connects to the cmap service; mapID 1 selects the stats map.
func Dial(mapID int) (*Client, error) { return DialService(ServiceName, mapID) }

// DialService connects to a cmap service listening under another name
// (tests run one per process that way).
func DialService(name string, mapID int) (*Client, error) {
	c, err := client.Dial(name)
	if err != nil {
		return nil, err
	}
	cl := &Client{c: c, Timeout: -1}
	if mapID != 0 {
		if err := cl.SetCurrentMap(mapID); err != nil {
			c.Close()
			return nil, err
		}
	}
	return cl, nil
}

// Close disconnects.
func (c *Client) Close() error { return c.c.Close() }

// IPC exposes the underlying connection (its fd, for polling events).
func (c *Client) IPC() *client.Client { return c.c }

func newRequest(id int32, size int) []byte {
	b := make([]byte, size)
	ipc.PutRequestHeader(b, id, size)
	return b
}

func (c *Client) call(req []byte, wantID int32) ([]byte, error) {
	resp, err := c.c.SendRecv(req, c.Timeout)
	if err != nil {
		return nil, err
	}
	h, err := ipc.ParseResponseHeader(resp)
	if err != nil {
		return nil, err
	}
	if int(h.Size) != len(resp) {
		return nil, fmt.Errorf("cmap: response size field %d for %d bytes", h.Size, len(resp))
	}
	if h.Error != ipc.CsOK {
		return resp, h.Error
	}
	if h.ID != wantID {
		return nil, fmt.Errorf("cmap: response id %d, want %d", h.ID, wantID)
	}
	return resp, nil
}

func checkKey(key string) error {
	if len(key) > nameValueMax-1 {
		return ipc.CsErrNameTooLong
	}
	return nil
}

// Get reads one key, asking for its length first as libcmap does.
func (c *Client) Get(key string) (cmap.Value, error) {
	if err := checkKey(key); err != nil {
		return cmap.Value{}, err
	}
	req := newRequest(ReqGet, RequestSizes[ReqGet])
	putName(req, offKey, key)
	resp, err := c.call(req, ResGet)
	if err != nil {
		return cmap.Value{}, err
	}
	n := binary.LittleEndian.Uint64(resp[24:])
	if n > MaxValueLen {
		return cmap.Value{}, fmt.Errorf("cmap: value of %d bytes", n)
	}
	if n == 0 {
		return cmap.FromWire(cmap.Type(resp[32]), nil)
	}
	binary.LittleEndian.PutUint64(req[offReqArg:], n)
	if resp, err = c.call(req, ResGet); err != nil {
		return cmap.Value{}, err
	}
	got := binary.LittleEndian.Uint64(resp[24:])
	if len(resp) != sizeGetRes+int(n) || got > n {
		return cmap.Value{}, fmt.Errorf("cmap: GET answered %d bytes for a %d-byte value", len(resp), n)
	}
	return cmap.FromWire(cmap.Type(resp[32]), resp[sizeGetRes:sizeGetRes+int(got)])
}

// Set stores a value.
func (c *Client) Set(key string, v cmap.Value) error {
	if err := checkKey(key); err != nil {
		return err
	}
	val := v.WireBytes()
	req := newRequest(ReqSet, offSetValue+len(val))
	putName(req, offKey, key)
	binary.LittleEndian.PutUint64(req[offReqArg:], uint64(len(val)))
	req[offSetType] = byte(v.Type)
	copy(req[offSetValue:], val)
	_, err := c.call(req, ResSet)
	return err
}

// Delete removes a key.
func (c *Client) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	req := newRequest(ReqDelete, RequestSizes[ReqDelete])
	putName(req, offKey, key)
	_, err := c.call(req, ResDelete)
	return err
}

// AdjustInt adds step to an integer key.
func (c *Client) AdjustInt(key string, step int32) error {
	if err := checkKey(key); err != nil {
		return err
	}
	req := newRequest(ReqAdjustInt, RequestSizes[ReqAdjustInt])
	putName(req, offKey, key)
	binary.LittleEndian.PutUint32(req[offReqArg:], uint32(step))
	_, err := c.call(req, ResAdjustInt)
	return err
}

// KeyInfo is what iteration reports per key.
type KeyInfo struct {
	Key  string
	Type cmap.Type
	Len  uint64
}

// Iter lists the keys under prefix ("" for all) in the server's order.
func (c *Client) Iter(prefix string) ([]KeyInfo, error) {
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	req := newRequest(ReqIterInit, RequestSizes[ReqIterInit])
	putName(req, offKey, prefix)
	resp, err := c.call(req, ResIterInit)
	if err != nil {
		return nil, err
	}
	h := binary.LittleEndian.Uint64(resp[24:])
	var out []KeyInfo
	next := newRequest(ReqIterNext, RequestSizes[ReqIterNext])
	binary.LittleEndian.PutUint64(next[offHandle:], h)
	for {
		resp, err := c.call(next, ResIterNext)
		if err == ipc.CsErrNoSections {
			break
		}
		if err != nil {
			return out, err
		}
		if len(resp) < sizeIterNextRes {
			return out, fmt.Errorf("cmap: ITER_NEXT reply of %d bytes", len(resp))
		}
		key, ok := readName(resp, 24)
		if !ok {
			return out, fmt.Errorf("cmap: bad key name in ITER_NEXT reply")
		}
		out = append(out, KeyInfo{Key: key, Len: binary.LittleEndian.Uint64(resp[288:]), Type: cmap.Type(resp[296])})
	}
	fin := newRequest(ReqIterFinalize, RequestSizes[ReqIterFinalize])
	binary.LittleEndian.PutUint64(fin[offHandle:], h)
	_, err = c.call(fin, ResIterFinalize)
	return out, err
}

// SetCurrentMap switches between map 0 (icmap) and 1 (stats).
func (c *Client) SetCurrentMap(m int) error {
	req := newRequest(ReqSetCurrentMap, RequestSizes[ReqSetCurrentMap])
	binary.LittleEndian.PutUint32(req[offHandle:], uint32(int32(m)))
	_, err := c.call(req, ResSetCurrentMap)
	return err
}

// TrackAdd watches key (or a prefix with cmap.TrackPrefix); inst comes
// back in every notification. It returns the server's track handle.
func (c *Client) TrackAdd(key string, flags cmap.TrackFlags, inst uint64) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	req := newRequest(ReqTrackAdd, RequestSizes[ReqTrackAdd])
	putName(req, offKey, key)
	binary.LittleEndian.PutUint32(req[offReqArg:], uint32(flags))
	binary.LittleEndian.PutUint64(req[offTrackInst:], inst)
	resp, err := c.call(req, ResTrackAdd)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(resp[24:]), nil
}

// TrackDelete stops a track and returns its inst cookie.
func (c *Client) TrackDelete(handle uint64) (uint64, error) {
	req := newRequest(ReqTrackDelete, RequestSizes[ReqTrackDelete])
	binary.LittleEndian.PutUint64(req[offHandle:], handle)
	resp, err := c.call(req, ResTrackDelete)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(resp[24:]), nil
}

// ReadNotify waits for one tracking notification.
func (c *Client) ReadNotify(timeout time.Duration) (inst uint64, ev cmap.Event, err error) {
	msg, err := c.c.ReadEvent(timeout)
	if err != nil {
		return 0, ev, err
	}
	return DecodeNotify(msg)
}

// DecodeNotify parses a NOTIFY_CALLBACK event.
func DecodeNotify(msg []byte) (inst uint64, ev cmap.Event, err error) {
	h, err := ipc.ParseResponseHeader(msg)
	if err != nil || h.ID != ResNotify || len(msg) < sizeNotify || int(h.Size) != len(msg) {
		return 0, ev, fmt.Errorf("cmap: not a notification (%d bytes)", len(msg))
	}
	inst = binary.LittleEndian.Uint64(msg[24:])
	key, ok := readName(msg, 32)
	if !ok {
		return 0, ev, fmt.Errorf("cmap: bad key in notification")
	}
	nl, ol := binary.LittleEndian.Uint64(msg[320:]), binary.LittleEndian.Uint64(msg[328:])
	if nl > MaxValueLen || ol > MaxValueLen || sizeNotify+nl+ol != uint64(len(msg)) {
		return 0, ev, fmt.Errorf("cmap: notification value lengths %d+%d for %d bytes", nl, ol, len(msg))
	}
	ev = cmap.Event{Key: key, Kind: cmap.EventKind(int32(binary.LittleEndian.Uint32(msg[296:])))}
	if t := cmap.Type(msg[304]); t.Valid() {
		if ev.New, err = cmap.FromWire(t, msg[sizeNotify:sizeNotify+nl]); err != nil {
			return 0, ev, err
		}
	}
	if t := cmap.Type(msg[312]); t.Valid() {
		if ev.Old, err = cmap.FromWire(t, msg[sizeNotify+nl:sizeNotify+nl+ol]); err != nil {
			return 0, ev, err
		}
	}
	return inst, ev, nil
}

// GetRequestForBench builds a GET for key offering a bufLen-byte buffer,
// the single round trip libcmap's cmap_get_uint32 and friends make.
func GetRequestForBench(key string, bufLen uint64) []byte {
	req := newRequest(ReqGet, RequestSizes[ReqGet])
	putName(req, offKey, key)
	binary.LittleEndian.PutUint64(req[offReqArg:], bufLen)
	return req
}
