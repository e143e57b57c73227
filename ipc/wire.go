package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Message ids libqb reserves below the services' own (0-based) ids.
const (
	MsgAuthenticate int32 = -1 // connection request / response
	MsgDisconnect   int32 = -3 // a client asking to be disconnected
)

// Sizes of the fixed structures of the protocol (x86_64 / arm64 layout).
const (
	RequestHeaderSize  = 16    // qb_ipc_request_header: id @0, size @8
	ResponseHeaderSize = 24    // qb_ipc_response_header: id @0, size @8, error @16
	ConnRequestSize    = 24    // qb_ipc_connection_request
	ConnResponseSize   = 12328 // qb_ipc_connection_response
	pathMax            = 4096
)

// Connection types announced in the handshake response.
const (
	ConnTypeSocket int32 = 0
	ConnTypeSHM    int32 = 1
)

// CsError is Corosync's cs_error_t as carried in response headers.
type CsError int32

// The cs_error_t values services use most.
const (
	CsOK             CsError = 1
	CsErrLibrary     CsError = 2
	CsErrTryAgain    CsError = 6
	CsErrInvalidParm CsError = 7
	CsErrNoMemory    CsError = 8
	CsErrBadHandle   CsError = 9
	CsErrBusy        CsError = 10
	CsErrAccess      CsError = 11
	CsErrNotExist    CsError = 12
	CsErrNameTooLong CsError = 13
	CsErrExist       CsError = 14
	CsErrNoSections  CsError = 27
)

// RequestHeader is the part of a request every message shares. The bytes
// between the fields are uninitialised padding in C clients and are ignored.
type RequestHeader struct {
	ID   int32
	Size int32
}

// ParseRequestHeader reads the id and size of a request message.
func ParseRequestHeader(b []byte) (RequestHeader, error) {
	if len(b) < RequestHeaderSize {
		return RequestHeader{}, fmt.Errorf("ipc: request of %d bytes is shorter than its header", len(b))
	}
	return RequestHeader{
		ID:   int32(binary.LittleEndian.Uint32(b[0:])),
		Size: int32(binary.LittleEndian.Uint32(b[8:])),
	}, nil
}

// PutRequestHeader writes id and size into b[0:16], zeroing the padding.
func PutRequestHeader(b []byte, id int32, size int) {
	clear(b[:RequestHeaderSize])
	binary.LittleEndian.PutUint32(b[0:], uint32(id))
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
}

// PutResponseHeader writes a response header into b[0:24], zeroing padding.
func PutResponseHeader(b []byte, id int32, size int, e CsError) {
	clear(b[:ResponseHeaderSize])
	binary.LittleEndian.PutUint32(b[0:], uint32(id))
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
	binary.LittleEndian.PutUint32(b[16:], uint32(e))
}

// ResponseHeader is the common part of responses and events.
type ResponseHeader struct {
	ID    int32
	Size  int32
	Error CsError
}

// ParseResponseHeader reads a response or event header.
func ParseResponseHeader(b []byte) (ResponseHeader, error) {
	if len(b) < ResponseHeaderSize {
		return ResponseHeader{}, fmt.Errorf("ipc: response of %d bytes is shorter than its header", len(b))
	}
	return ResponseHeader{
		ID:    int32(binary.LittleEndian.Uint32(b[0:])),
		Size:  int32(binary.LittleEndian.Uint32(b[8:])),
		Error: CsError(int32(binary.LittleEndian.Uint32(b[16:]))),
	}, nil
}

// NewResponse allocates a zeroed response of size bytes with its header set.
func NewResponse(id int32, size int, e CsError) []byte {
	b := make([]byte, size)
	PutResponseHeader(b, id, size, e)
	return b
}

// ConnRequest is the client's first message on the setup socket.
type ConnRequest struct {
	MaxMsgSize uint32
}

// ErrBadHandshake reports a connection request that is not one.
var ErrBadHandshake = errors.New("ipc: malformed connection request")

// ParseConnRequest decodes the 24-byte connection request.
func ParseConnRequest(b []byte) (ConnRequest, error) {
	h, err := ParseRequestHeader(b)
	if err != nil || len(b) != ConnRequestSize {
		return ConnRequest{}, ErrBadHandshake
	}
	if h.ID != MsgAuthenticate || h.Size != ConnRequestSize {
		return ConnRequest{}, fmt.Errorf("%w: id %d size %d", ErrBadHandshake, h.ID, h.Size)
	}
	return ConnRequest{MaxMsgSize: binary.LittleEndian.Uint32(b[16:])}, nil
}

// Encode returns the 24 request bytes.
func (r ConnRequest) Encode() []byte {
	b := make([]byte, ConnRequestSize)
	PutRequestHeader(b, MsgAuthenticate, ConnRequestSize)
	binary.LittleEndian.PutUint32(b[16:], r.MaxMsgSize)
	return b
}

// ConnResponse is the server's answer to a connection request. Err is the
// negated errno libqb puts in the header (0 on success).
type ConnResponse struct {
	Err        syscall.Errno
	ConnType   int32
	MaxMsgSize uint32
	Connection uint64
	Request    string
	Response   string
	Event      string
}

// Encode returns the 12328 response bytes.
func (r ConnResponse) Encode() []byte {
	b := make([]byte, ConnResponseSize)
	putI32(b[0:], MsgAuthenticate)
	binary.LittleEndian.PutUint32(b[8:], ConnResponseSize)
	binary.LittleEndian.PutUint32(b[16:], uint32(-int32(r.Err)))
	if r.Err == 0 {
		binary.LittleEndian.PutUint32(b[24:], uint32(r.ConnType))
		binary.LittleEndian.PutUint32(b[28:], r.MaxMsgSize)
		binary.LittleEndian.PutUint64(b[32:], r.Connection)
		putCString(b[40:40+pathMax], r.Request)
		putCString(b[40+pathMax:40+2*pathMax], r.Response)
		putCString(b[40+2*pathMax:40+3*pathMax], r.Event)
	}
	return b
}

// ParseConnResponse decodes a handshake response.
func ParseConnResponse(b []byte) (ConnResponse, error) {
	if len(b) != ConnResponseSize {
		return ConnResponse{}, fmt.Errorf("ipc: connection response of %d bytes, want %d", len(b), ConnResponseSize)
	}
	h, _ := ParseResponseHeader(b)
	if h.ID != MsgAuthenticate || h.Size != ConnResponseSize {
		return ConnResponse{}, fmt.Errorf("ipc: bad connection response header id %d size %d", h.ID, h.Size)
	}
	r := ConnResponse{}
	if h.Error < 0 {
		r.Err = syscall.Errno(-h.Error)
		return r, nil
	} else if h.Error != 0 {
		return r, fmt.Errorf("ipc: connection response with positive error %d", h.Error)
	}
	r.ConnType = int32(binary.LittleEndian.Uint32(b[24:]))
	r.MaxMsgSize = binary.LittleEndian.Uint32(b[28:])
	r.Connection = binary.LittleEndian.Uint64(b[32:])
	r.Request = cString(b[40 : 40+pathMax])
	r.Response = cString(b[40+pathMax : 40+2*pathMax])
	r.Event = cString(b[40+2*pathMax : 40+3*pathMax])
	return r, nil
}

func putCString(dst []byte, s string) {
	n := copy(dst[:len(dst)-1], s)
	clear(dst[n:])
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func putI32(b []byte, v int32) { binary.LittleEndian.PutUint32(b, uint32(v)) }
