package query

import (
	"errors"
	"net/http"

	"github.com/akosha/akosha/functions/query/graph"
	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/internal/httpx"
)

// apiError is the API error of a refusal by the packages below the
// function: a parameter param refused is a 400 with its code, a node the
// graph does not hold a 404. Other errors are the function's already
// (pinnedViews.Query makes a statement's), and are returned as they are.
func apiError(err error) error {
	var pe *param.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return badRequest(pe.Code, "%s", pe.Message)
	case errors.Is(err, graph.ErrNotFound):
		return httpx.Errorf(http.StatusNotFound, httpx.CodeNotFound, "%s", err.Error())
	}
	return err
}
