package console

// Routes returns the method and pattern of every route c serves.
func Routes(c *Console) []string {
	var out []string
	for _, r := range c.routes() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}
