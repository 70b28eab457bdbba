package main

import (
	"bufio"
	"net"
)

// handedConn is a connection given to net/http, which reads first the head
// already read and what else was buffered.
type handedConn struct {
	net.Conn
	head []byte
	br   *bufio.Reader
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if c.br != nil && c.br.Buffered() > 0 {
		return c.br.Read(p)
	}
	return c.Conn.Read(p)
}

// SetLinger lets the api reset a handed connection (dropConnection).
func (c *handedConn) SetLinger(sec int) error {
	if tcp, ok := c.Conn.(*net.TCPConn); ok {
		return tcp.SetLinger(sec)
	}
	return nil
}

// CloseWrite lets net/http end a connection it closes after an answer as
// it ends its own.
func (c *handedConn) CloseWrite() error {
	if tcp, ok := c.Conn.(*net.TCPConn); ok {
		return tcp.CloseWrite()
	}
	return nil
}
