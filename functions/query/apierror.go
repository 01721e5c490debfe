package query

import (
	"errors"

	"github.com/akosha/akosha/functions/query/param"
)

// apiError is the API error of a refusal by the packages below the
// function: a parameter param refused is a 400 with its code. Other errors
// are the function's already, and are returned as they are.
func apiError(err error) error {
	var pe *param.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return badRequest(pe.Code, "%s", pe.Message)
	}
	return err
}
