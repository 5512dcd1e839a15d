module github.com/shipevents/shipevents/internal/browsertest

go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.24.0
	github.com/shipevents/shipevents v0.1.0
)
