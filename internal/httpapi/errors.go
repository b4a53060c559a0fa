package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

// Error codes of the {"error": {"code", "message"}} body.
const (
	codeInvalidRequest   = "invalid_request"
	codeTooLarge         = "request_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeNotReady         = "not_ready"
	codeInternal         = "internal_error"
	codeUnauthorized     = "unauthorized"
)

// apiError is an error with the status and code it is answered with.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func badRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidRequest, message: msg}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is the one place errors become status codes and bodies.
func writeError(c *gin.Context, err error) {
	var ae *apiError
	var ee *engine.EvalError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, engine.ErrNotReady):
		ae = &apiError{http.StatusServiceUnavailable, codeNotReady, err.Error()}
	case errors.As(err, &ee):
		ae = &apiError{http.StatusInternalServerError, ee.Code, ee.Message}
	default:
		ae = &apiError{http.StatusInternalServerError, codeInternal, err.Error()}
	}
	c.AbortWithStatusJSON(ae.status, errorBody{errorDetail{ae.code, ae.message}})
}
