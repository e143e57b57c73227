package cib

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Element is a minimal XML DOM node. Attribute order is kept because the
// transition graph and digests depend on it.
type Element struct {
	Name     string
	Attrs    []xml.Attr
	Children []*Element
	Parent   *Element
	Line     int
}

// Get returns an attribute value or "".
func (e *Element) Get(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Has reports whether an attribute is present.
func (e *Element) Has(name string) bool {
	if e == nil {
		return false
	}
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

// Set sets or adds an attribute.
func (e *Element) Set(name, value string) {
	for i, a := range e.Attrs {
		if a.Name.Local == name {
			e.Attrs[i].Value = value
			return
		}
	}
	e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: name}, Value: value})
}

// Child returns the first child element with the given name.
func (e *Element) Child(name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// All returns the child elements with the given name.
func (e *Element) All(name string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Path returns an XPath-like location used in error messages.
func (e *Element) Path() string {
	var parts []string
	for n := e; n != nil; n = n.Parent {
		p := n.Name
		if id := n.Get("id"); id != "" {
			p += "[@id='" + id + "']"
		}
		parts = append(parts, p)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// ParseDOM reads one XML document into an Element tree.
func ParseDOM(r io.Reader) (*Element, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root, cur *Element
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := &Element{Name: t.Name.Local, Parent: cur, Line: 1 + bytes.Count(data[:off], []byte("\n"))}
			for _, a := range t.Attr {
				a.Name.Space = ""
				el.Attrs = append(el.Attrs, a)
			}
			if cur == nil {
				if root != nil {
					return nil, fmt.Errorf("xml: line %d: more than one root element", el.Line)
				}
				root = el
			} else {
				cur.Children = append(cur.Children, el)
			}
			cur = el
		case xml.EndElement:
			if cur != nil {
				cur = cur.Parent
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("xml: no root element")
	}
	return root, nil
}
