"""Streamlit pieces shared by the pages: session state, sidebar widgets and Plotly chart builders."""
